package gbdt

import (
	"sync"
	"sync/atomic"
)

// chunkRows is the number of rows per job in row-wise loops. It is fixed,
// not derived from the worker count, so results never depend on it.
const chunkRows = 4096

// parallelFor calls fn(i) for every i in [0, n) on up to workers
// goroutines. Jobs must write disjoint memory; any reduction over them is
// the caller's, done afterwards in index order.
func parallelFor(workers, n int, fn func(i int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// parallelRows calls fn(lo, hi) over consecutive ranges covering [0, n).
func parallelRows(workers, n int, fn func(lo, hi int)) {
	chunks := (n + chunkRows - 1) / chunkRows
	parallelFor(workers, chunks, func(c int) {
		fn(c*chunkRows, min((c+1)*chunkRows, n))
	})
}
