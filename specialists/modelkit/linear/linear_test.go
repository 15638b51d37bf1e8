package linear

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
)

// logisticData draws n rows of standard normal features and labels from
// the logistic model with the given weights and bias.
func logisticData(n int, weights []float64, bias float64, seed uint64) (modelkit.Matrix, []float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := modelkit.NewMatrix(n, len(weights))
	y := make([]float64, n)
	for i := range n {
		row := x.Row(i)
		z := bias
		for j, w := range weights {
			row[j] = rng.NormFloat64()
			z += w * row[j]
		}
		if rng.Float64() < modelkit.Sigmoid(z) {
			y[i] = 1
		}
	}
	return x, y
}

func TestTrainRecoversTheWeightsThatGeneratedTheLabels(t *testing.T) {
	want := []float64{1.5, -2, 0.5, 0}
	const bias = -0.7
	x, y := logisticData(40000, want, bias, 1)
	res, err := Train(x, y, Params{L2: 1e-8})
	if err != nil {
		t.Fatal(err)
	}
	for j, w := range want {
		if got := res.Model.Weights[j]; math.Abs(got-w) > 0.08 {
			t.Errorf("weight %d = %.3f, want %.3f ± 0.08", j, got, w)
		}
	}
	if math.Abs(res.Model.Bias-bias) > 0.08 {
		t.Errorf("bias = %.3f, want %.3f ± 0.08", res.Model.Bias, bias)
	}
}

func TestTrainStopsAtTheOptimumInAFewNewtonSteps(t *testing.T) {
	x, y := logisticData(5000, []float64{1, -1, 0.3, 2, 0}, 0.4, 2)
	const l2 = 1e-2
	res, err := Train(x, y, Params{L2: l2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Iterations < 1 || res.Iterations > 20 {
		t.Errorf("%d Newton steps, want 1 to 20", res.Iterations)
	}
	// At the optimum the objective's gradient vanishes: the mean residual
	// is zero and each feature's mean residual balances its penalty.
	m := res.Model
	grad := make([]float64, x.Cols+1)
	for i := range x.Rows {
		r := m.Predict(x.Row(i)) - y[i]
		for j, v := range x.Row(i) {
			grad[j] += r * v
		}
		grad[x.Cols] += r
	}
	for j := range grad {
		grad[j] /= float64(x.Rows)
		if j < x.Cols {
			grad[j] += l2 * m.Weights[j]
		}
		if math.Abs(grad[j]) > 1e-7 {
			t.Errorf("gradient component %d = %g at the returned model", j, grad[j])
		}
	}
}

func TestTrainIsDeterministic(t *testing.T) {
	x, y := logisticData(2000, []float64{0.5, -1, 2}, 0, 3)
	a, err := Train(x, y, Params{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(x, y, Params{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("two runs differ: %+v and %+v", a.Model, b.Model)
	}
}

func TestTrainStaysFiniteOnSeparableData(t *testing.T) {
	// Without the penalty the weights of perfectly separable data grow
	// without bound; with it the optimum is finite.
	x := modelkit.Matrix{Rows: 4, Cols: 1, Data: []float64{-2, -1, 1, 2}}
	y := []float64{0, 0, 1, 1}
	res, err := Train(x, y, Params{})
	if err != nil {
		t.Fatal(err)
	}
	w := res.Model.Weights[0]
	if math.IsNaN(w) || math.IsInf(w, 0) || w <= 0 || res.Iterations >= 500 {
		t.Fatalf("weight %v after %d steps", w, res.Iterations)
	}
	if p := res.Model.Predict([]float64{2}); p < 0.99 {
		t.Errorf("p(2) = %v, want above 0.99", p)
	}
}

func TestTrainRejectsInputItCannotTrainOn(t *testing.T) {
	good := modelkit.Matrix{Rows: 2, Cols: 1, Data: []float64{0, 1}}
	cases := []struct {
		name string
		x    modelkit.Matrix
		y    []float64
		p    Params
		want error
	}{
		{"an empty matrix is refused", modelkit.Matrix{}, nil, Params{}, ErrInvalidData},
		{"a matrix without columns is refused", modelkit.Matrix{Rows: 2}, []float64{0, 1}, Params{}, ErrInvalidData},
		{"data shorter than rows times columns is refused", modelkit.Matrix{Rows: 2, Cols: 2, Data: []float64{0, 1}}, []float64{0, 1}, Params{}, ErrInvalidData},
		{"fewer labels than rows are refused", good, []float64{0}, Params{}, ErrInvalidData},
		{"a NaN feature is refused", modelkit.Matrix{Rows: 2, Cols: 1, Data: []float64{math.NaN(), 1}}, []float64{0, 1}, Params{}, ErrInvalidData},
		{"an infinite feature is refused", modelkit.Matrix{Rows: 2, Cols: 1, Data: []float64{math.Inf(1), 1}}, []float64{0, 1}, Params{}, ErrInvalidData},
		{"a label of 2 is refused", good, []float64{0, 2}, Params{}, ErrInvalidData},
		{"a NaN label is refused", good, []float64{0, math.NaN()}, Params{}, ErrInvalidData},
		{"labels of one class are refused", good, []float64{1, 1}, Params{}, ErrInvalidData},
		{"a negative L2 is refused", good, []float64{0, 1}, Params{L2: -1}, ErrInvalidParams},
		{"a NaN L2 is refused", good, []float64{0, 1}, Params{L2: math.NaN()}, ErrInvalidParams},
		{"a negative MaxIter is refused", good, []float64{0, 1}, Params{MaxIter: -1}, ErrInvalidParams},
		{"a negative Tol is refused", good, []float64{0, 1}, Params{Tol: -1}, ErrInvalidParams},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := Train(c.x, c.y, c.p)
			if !errors.Is(err, c.want) || res != nil {
				t.Fatalf("got %v, %v; want an error wrapping %v", res, err, c.want)
			}
		})
	}
}

func BenchmarkTrain8000x13(b *testing.B) {
	x, y := logisticData(8000, []float64{1, -1, 0.5, 0, 0.2, -0.3, 0.8, 0, 0, 0.1, -0.6, 0.4, 0}, -1, 4)
	for b.Loop() {
		if _, err := Train(x, y, Params{}); err != nil {
			b.Fatal(err)
		}
	}
}
