package tabular

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// StratifiedSplit deals row indices into len(fractions) parts, each part
// holding about its fraction of every class, so a rare positive class is
// not left out of a small test part. Fractions are relative weights (0.7,
// 0.15, 0.15 and 70, 15, 15 split alike). The same target and seed always
// give the same parts; each part lists its rows in ascending order. It
// panics if no fraction is given or one is negative, NaN or infinite, or
// all are zero, since that is a mistake in the calling code.
func StratifiedSplit(target []float64, seed uint64, fractions ...float64) [][]int {
	sum := 0.0
	for _, fr := range fractions {
		if fr < 0 || math.IsNaN(fr) || math.IsInf(fr, 0) {
			panic(fmt.Sprintf("tabular: StratifiedSplit fraction %v is not a finite non-negative number", fr))
		}
		sum += fr
	}
	if len(fractions) == 0 || sum == 0 {
		panic("tabular: StratifiedSplit needs at least one positive fraction")
	}

	classes := make(map[uint64][]int)
	for i, y := range target {
		k := math.Float64bits(y)
		classes[k] = append(classes[k], i)
	}
	keys := make([]uint64, 0, len(classes))
	for k := range classes {
		keys = append(keys, k)
	}
	slices.Sort(keys) // map order is random; the split must not be

	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	parts := make([][]int, len(fractions))
	for _, k := range keys {
		rows := classes[k]
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		start := 0
		for p, n := range apportion(len(rows), fractions, sum) {
			parts[p] = append(parts[p], rows[start:start+n]...)
			start += n
		}
	}
	for p := range parts {
		if parts[p] == nil {
			parts[p] = []int{}
		}
		slices.Sort(parts[p])
	}
	return parts
}

// apportion divides n items by the fractions with the largest-remainder
// rule, so the counts add up to n and each is within one of its share.
func apportion(n int, fractions []float64, sum float64) []int {
	counts := make([]int, len(fractions))
	rems := make([]int, len(fractions))
	left := n
	remainder := make([]float64, len(fractions))
	for i, fr := range fractions {
		share := float64(n) * fr / sum
		counts[i] = int(math.Floor(share))
		remainder[i] = share - float64(counts[i])
		left -= counts[i]
		rems[i] = i
	}
	slices.SortStableFunc(rems, func(a, b int) int { return cmp.Compare(remainder[b], remainder[a]) })
	for i := 0; i < left; i++ {
		counts[rems[i%len(rems)]]++
	}
	return counts
}
