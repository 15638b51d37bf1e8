package gbdt

import (
	"testing"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/internal/modeltest"
)

func BenchmarkTrain(b *testing.B) {
	x, y := modeltest.XOR(20000, 20, 0.1, 1)
	for b.Loop() {
		if _, err := Train(x, y, modelkit.Matrix{}, nil, Params{Rounds: 100}, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPredict(b *testing.B) {
	x, y := modeltest.XOR(5000, 20, 0.1, 1)
	res, err := Train(x, y, modelkit.Matrix{}, nil, Params{Rounds: 300, MinSamplesLeaf: 5}, 1)
	if err != nil {
		b.Fatal(err)
	}
	row := x.Row(0)
	for b.Loop() {
		res.Model.Predict(row)
	}
}
