package tabular

import (
	"math"
	"slices"
	"testing"
)

// churnLike returns n labels of which about a fifth are positive, spread
// unevenly so a plain cut would not be stratified by luck.
func churnLike(n int) []float64 {
	y := make([]float64, n)
	for i := range y {
		if i%5 == 0 || (i > n/2 && i%7 == 0) {
			y[i] = 1
		}
	}
	return y
}

func TestStratifiedSplit(t *testing.T) {
	tests := []struct {
		name      string
		n         int
		fractions []float64
	}{
		{"a 70/15/15 split keeps each part's share of each class", 10000, []float64{0.7, 0.15, 0.15}},
		{"an 80/20 split keeps each part's share of each class", 1001, []float64{0.8, 0.2}},
		{"weights that do not sum to one split alike", 997, []float64{70, 15, 15}},
		{"a tiny set still puts every row in exactly one part", 7, []float64{0.5, 0.25, 0.25}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := churnLike(tt.n)
			parts := StratifiedSplit(y, 42, tt.fractions...)
			if len(parts) != len(tt.fractions) {
				t.Fatalf("got %d parts, want %d", len(parts), len(tt.fractions))
			}
			sum := 0.0
			for _, f := range tt.fractions {
				sum += f
			}
			var all []int
			for p, rows := range parts {
				if !slices.IsSorted(rows) {
					t.Errorf("part %d is not in ascending order", p)
				}
				all = append(all, rows...)
				for _, class := range []float64{0, 1} {
					total, got := count(y, nil, class), count(y, rows, class)
					want := float64(total) * tt.fractions[p] / sum
					if math.Abs(float64(got)-want) > 1 {
						t.Errorf("part %d has %d rows of class %v, want %.1f±1", p, got, class, want)
					}
				}
			}
			slices.Sort(all)
			for i, r := range all {
				if r != i {
					t.Fatalf("rows are not dealt exactly once: position %d holds %d", i, r)
				}
			}
			if len(all) != tt.n {
				t.Fatalf("dealt %d rows, want %d", len(all), tt.n)
			}
		})
	}
}

func TestStratifiedSplitIsDeterministic(t *testing.T) {
	y := churnLike(500)
	a := StratifiedSplit(y, 7, 0.7, 0.3)
	b := StratifiedSplit(y, 7, 0.7, 0.3)
	c := StratifiedSplit(y, 8, 0.7, 0.3)
	if !slices.Equal(a[0], b[0]) || !slices.Equal(a[1], b[1]) {
		t.Error("the same seed gave different splits")
	}
	if slices.Equal(a[0], c[0]) {
		t.Error("different seeds gave the same split")
	}
}

func TestStratifiedSplitPanicsOnBadFractions(t *testing.T) {
	for _, fr := range [][]float64{nil, {0, 0}, {0.5, -0.1}, {math.NaN()}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("fractions %v did not panic", fr)
				}
			}()
			StratifiedSplit([]float64{0, 1}, 1, fr...)
		}()
	}
}

func count(y []float64, rows []int, class float64) int {
	n := 0
	if rows == nil {
		for _, v := range y {
			if v == class {
				n++
			}
		}
		return n
	}
	for _, r := range rows {
		if y[r] == class {
			n++
		}
	}
	return n
}
