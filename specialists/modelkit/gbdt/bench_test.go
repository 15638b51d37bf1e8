package gbdt

import (
	"testing"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
)

func BenchmarkTrain(b *testing.B) {
	x, y := quadrantData(20000, 20, 0.1, 1)
	for b.Loop() {
		if _, err := Train(x, y, modelkit.Matrix{}, nil, Params{Rounds: 100}, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPredict(b *testing.B) {
	x, y := quadrantData(5000, 20, 0.1, 1)
	res, err := Train(x, y, modelkit.Matrix{}, nil, Params{Rounds: 300, MinSamplesLeaf: 5}, 1)
	if err != nil {
		b.Fatal(err)
	}
	row := x.Row(0)
	for b.Loop() {
		res.Model.Predict(row)
	}
}
