package onnxmodel

import (
	"math"
	"math/rand/v2"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
)

// Fixtures shared by the tests and benchmarks: random models from fixed
// seeds, and inputs that are float32-representable (the parity contract).

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func randLinear(rng *rand.Rand, nFeatures int) *modelkit.Linear {
	m := &modelkit.Linear{Bias: rng.NormFloat64(), Weights: make([]float64, nFeatures)}
	for j := range m.Weights {
		m.Weights[j] = rng.NormFloat64() * 0.7
	}
	return m
}

func randMLP(rng *rand.Rand, nFeatures int, hidden ...int) *modelkit.MLP {
	sizes := append(append([]int{nFeatures}, hidden...), 1)
	m := &modelkit.MLP{}
	for i := 1; i < len(sizes); i++ {
		l := modelkit.Layer{In: sizes[i-1], Out: sizes[i], ReLU: i < len(sizes)-1}
		l.W = make([]float64, l.In*l.Out)
		l.B = make([]float64, l.Out)
		for k := range l.W {
			l.W[k] = rng.NormFloat64() / math.Sqrt(float64(l.In))
		}
		for k := range l.B {
			l.B[k] = rng.NormFloat64() * 0.1
		}
		m.Layers = append(m.Layers, l)
	}
	return m
}

// randTree returns a tree of at most the given depth; with ragged set,
// branches stop early at random so that leaves sit at different depths.
func randTree(rng *rand.Rand, depth, nFeatures int, ragged bool) modelkit.Tree {
	var t modelkit.Tree
	var grow func(d int) int
	grow = func(d int) int {
		i := len(t.Nodes)
		t.Nodes = append(t.Nodes, modelkit.Node{})
		if d == 0 || (ragged && d < depth && rng.IntN(3) == 0) {
			t.Nodes[i] = modelkit.Node{Leaf: true, Value: rng.NormFloat64() * 0.3}
			return i
		}
		// Thresholds are arbitrary float64s, almost never float32-representable.
		n := modelkit.Node{Feature: rng.IntN(nFeatures), Threshold: rng.NormFloat64()}
		n.Left = grow(d - 1)
		n.Right = grow(d - 1)
		t.Nodes[i] = n
		return i
	}
	grow(depth)
	return t
}

func randEnsemble(rng *rand.Rand, nTrees, depth, nFeatures int, ragged bool) *modelkit.Ensemble {
	e := &modelkit.Ensemble{Base: rng.NormFloat64() * 0.2}
	for range nTrees {
		e.Trees = append(e.Trees, randTree(rng, depth, nFeatures, ragged))
	}
	return e
}

// randInputs returns float32-representable rows.
func randInputs(rng *rand.Rand, rows, cols int) modelkit.Matrix {
	x := modelkit.NewMatrix(rows, cols)
	for i := range x.Data {
		x.Data[i] = float64(float32(rng.NormFloat64()))
	}
	return x
}

// boundaryInputs returns float32-representable rows in which many values
// sit right at some split's threshold: the float32 just below it, the one
// just above it, or its float32 rounding, where a careless threshold
// conversion would send the row the other way.
func boundaryInputs(rng *rand.Rand, e *modelkit.Ensemble, rows, cols int) modelkit.Matrix {
	var splits []modelkit.Node
	for _, t := range e.Trees {
		for _, n := range t.Nodes {
			if !n.Leaf {
				splits = append(splits, n)
			}
		}
	}
	x := randInputs(rng, rows, cols)
	for i := 0; i < rows; i++ {
		for range cols {
			n := splits[rng.IntN(len(splits))]
			near := float32(n.Threshold)
			switch rng.IntN(3) {
			case 0:
				near = math.Nextafter32(near, float32(math.Inf(-1)))
			case 1:
				near = math.Nextafter32(near, float32(math.Inf(1)))
			}
			x.Row(i)[n.Feature] = float64(near)
		}
	}
	return x
}

type predictor interface{ Predict(x []float64) float64 }

func referencePredict(m predictor, x modelkit.Matrix) []float64 {
	out := make([]float64, x.Rows)
	for i := range out {
		out[i] = m.Predict(x.Row(i))
	}
	return out
}
