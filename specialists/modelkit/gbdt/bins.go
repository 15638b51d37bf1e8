package gbdt

import (
	"math"
	"slices"
	"sort"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
)

// quantizer holds each feature's bin edges. edges[f] is strictly
// increasing and a value v falls in bin "number of edges ≤ v", so
//
//	bin(v) ≤ b  ⇔  v < edges[f][b]
//
// for every v: a split on bin b is the modelkit split at threshold
// edges[f][b].
type quantizer struct {
	edges [][]float64
}

// newQuantizer cuts each feature of x into at most maxBins bins at its
// quantiles. Features with at most maxBins distinct values get one bin
// per value.
func newQuantizer(x modelkit.Matrix, maxBins, workers int) *quantizer {
	q := &quantizer{edges: make([][]float64, x.Cols)}
	parallelFor(workers, x.Cols, func(f int) {
		col := make([]float64, x.Rows)
		for i := range col {
			col[i] = x.Data[i*x.Cols+f]
		}
		q.edges[f] = quantileEdges(col, maxBins)
	})
	return q
}

// quantileEdges sorts values in place and returns at most maxBins-1 edges,
// each strictly between two adjacent distinct values.
func quantileEdges(values []float64, maxBins int) []float64 {
	slices.Sort(values)
	distinct := slices.Compact(slices.Clone(values))
	var edges []float64
	if len(distinct) <= maxBins {
		for j := 1; j < len(distinct); j++ {
			edges = append(edges, midpoint(distinct[j-1], distinct[j]))
		}
		return edges
	}
	n := len(values)
	for k := 1; k < maxBins; k++ {
		v := values[k*n/maxBins]
		j, _ := slices.BinarySearch(distinct, v)
		if j == 0 {
			continue
		}
		e := midpoint(distinct[j-1], distinct[j])
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	return edges
}

// midpoint returns a number m with a < m ≤ b, halfway when floats allow:
// for adjacent floats, or infinities, it falls back to b itself.
func midpoint(a, b float64) float64 {
	m := a + (b-a)/2
	if math.IsInf(b-a, 0) {
		m = a/2 + b/2
	}
	if m > a && m <= b {
		return m
	}
	return b
}

// bins returns the number of bins of feature f.
func (q *quantizer) bins(f int) int { return len(q.edges[f]) + 1 }

// bin returns the bin of value v of feature f.
func (q *quantizer) bin(f int, v float64) uint8 {
	e := q.edges[f]
	return uint8(sort.Search(len(e), func(i int) bool { return e[i] > v }))
}

// binMatrix returns x's bins column-major: feature f of row i is at
// f*x.Rows+i, so a histogram of one feature reads one contiguous column.
func (q *quantizer) binMatrix(x modelkit.Matrix, workers int) []uint8 {
	out := make([]uint8, x.Rows*x.Cols)
	parallelFor(workers, x.Cols, func(f int) {
		col := out[f*x.Rows : (f+1)*x.Rows]
		for i := range col {
			col[i] = q.bin(f, x.Data[i*x.Cols+f])
		}
	})
	return out
}
