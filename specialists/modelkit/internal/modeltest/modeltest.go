// Package modeltest has the data and scores that the trainers' tests
// share.
package modeltest

import (
	"math/rand/v2"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/evaluate"
)

// XOR draws n rows of cols uniform features on [-1, 1] labelled 1 when
// x0·x1 > 0, each label flipped with probability noise: a problem no
// linear model can rank better than chance. The other features are noise.
func XOR(n, cols int, noise float64, seed uint64) (modelkit.Matrix, []float64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	x := modelkit.NewMatrix(n, cols)
	y := make([]float64, n)
	for i := range n {
		row := x.Row(i)
		for j := range row {
			row[j] = 2*rng.Float64() - 1
		}
		if row[0]*row[1] > 0 {
			y[i] = 1
		}
		if rng.Float64() < noise {
			y[i] = 1 - y[i]
		}
	}
	return x, y
}

// AUC is the ROC AUC of probabilities p for labels y, or -1 when it is
// undefined (one class only).
func AUC(y, p []float64) float64 {
	m, err := evaluate.Score(y, p, 0.5)
	if err != nil {
		return -1
	}
	return m.ROCAUC
}
