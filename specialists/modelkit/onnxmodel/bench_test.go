package onnxmodel

import "testing"

func benchmarkPredict(b *testing.B, data []byte, err error, nFeatures int) {
	if err != nil {
		b.Fatal(err)
	}
	rt, err := Load(data)
	if err != nil {
		b.Fatal(err)
	}
	for _, rows := range []int{1, 64} {
		x := randInputs(newRand(uint64(rows)), rows, nFeatures)
		b.Run(map[int]string{1: "row", 64: "batch64"}[rows], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rt.Predict(x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPredictLinear(b *testing.B) {
	data, err := ExportLinear(randLinear(newRand(1), 13), 13)
	benchmarkPredict(b, data, err, 13)
}

func BenchmarkPredictMLP(b *testing.B) {
	data, err := ExportMLP(randMLP(newRand(1), 13, 32, 16))
	benchmarkPredict(b, data, err, 13)
}

func BenchmarkPredictEnsemble(b *testing.B) {
	data, err := ExportEnsemble(randEnsemble(newRand(1), 100, 4, 20, false), 20)
	benchmarkPredict(b, data, err, 20)
}

func BenchmarkPredictEnsemble300(b *testing.B) {
	data, err := ExportEnsemble(randEnsemble(newRand(1), 300, 4, 15, false), 15)
	benchmarkPredict(b, data, err, 15)
}

// BenchmarkModelkitEnsemble is the direct tree walk, for comparison.
func BenchmarkModelkitEnsemble(b *testing.B) {
	e := randEnsemble(newRand(1), 100, 4, 20, false)
	x := randInputs(newRand(64), 64, 20)
	b.Run("batch64", func(b *testing.B) {
		for b.Loop() {
			_ = referencePredict(e, x)
		}
	})
}
