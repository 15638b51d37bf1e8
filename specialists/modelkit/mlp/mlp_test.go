package mlp

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/internal/modeltest"
)

func predictAll(m *modelkit.MLP, x modelkit.Matrix) []float64 {
	p := make([]float64, x.Rows)
	for i := range p {
		p[i] = m.Predict(x.Row(i))
	}
	return p
}

func TestTrainLearnsXOR(t *testing.T) {
	x, y := modeltest.XOR(3000, 4, 0.02, 1)
	xVal, yVal := modeltest.XOR(600, 4, 0.02, 2)
	xTest, yTest := modeltest.XOR(2000, 4, 0, 3)
	res, err := Train(x, y, xVal, yVal, Params{Hidden: []int{16, 8}, LearningRate: 1e-2, Patience: 15}, 7)
	if err != nil {
		t.Fatal(err)
	}
	got := modeltest.AUC(yTest, predictAll(res.Model, xTest))
	t.Logf("held-out AUC %.4f after %d epochs, best %d", got, len(res.ValidLogLoss), res.BestEpoch)
	if got < 0.95 {
		t.Errorf("held-out AUC %.4f, want above 0.95 (best epoch %d of %d)", got, res.BestEpoch, len(res.ValidLogLoss))
	}
}

func TestEarlyStoppingKeepsTheWeightsOfTheBestEpoch(t *testing.T) {
	// Few, noisy rows: a wide network first learns the signal, then
	// memorises the noise, and the validation log-loss rises again.
	x, y := modeltest.XOR(150, 4, 0.2, 4)
	xVal, yVal := modeltest.XOR(400, 4, 0.2, 5)
	p := Params{Hidden: []int{64, 64}, LearningRate: 3e-3, BatchSize: 8, Epochs: 500, Patience: 5}
	res, err := Train(x, y, xVal, yVal, p, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.BestEpoch < 3 {
		t.Fatalf("best epoch %d; the data should need a few epochs to fit", res.BestEpoch)
	}
	if n := len(res.ValidLogLoss); n == p.Epochs || n != res.BestEpoch+p.Patience {
		t.Fatalf("ran %d epochs with best epoch %d, want exactly %d more than the best", n, res.BestEpoch, p.Patience)
	}
	best := res.ValidLogLoss[res.BestEpoch-1]
	t.Logf("best epoch %d of %d", res.BestEpoch, len(res.ValidLogLoss))
	if best != slices.Min(res.ValidLogLoss) {
		t.Errorf("best epoch's log-loss %v is not the lowest, %v", best, slices.Min(res.ValidLogLoss))
	}
	acts := newTrainer(x, y, p.withDefaults(), rand.New(rand.NewPCG(0, 0))).acts
	if got := logLoss(res.Model, xVal, yVal, acts); got != best {
		t.Errorf("returned model's validation log-loss %v, want the best epoch's %v", got, best)
	}
}

func TestTheSameSeedGivesTheSameModel(t *testing.T) {
	x, y := modeltest.XOR(500, 3, 0.1, 6)
	xVal, yVal := modeltest.XOR(200, 3, 0.1, 7)
	p := Params{Epochs: 20}
	model := func(seed uint64) []byte {
		res, err := Train(x, y, xVal, yVal, p, seed)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(res.Model)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a := model(42)
	if !bytes.Equal(a, model(42)) {
		t.Fatal("two runs with seed 42 give different models")
	}
	if bytes.Equal(a, model(43)) {
		t.Fatal("seeds 42 and 43 give the same model")
	}
}

func TestPredictAgreesWithTheTrainersForwardPass(t *testing.T) {
	x, y := modeltest.XOR(300, 5, 0.1, 8)
	res, err := Train(x, y, x, y, Params{Hidden: []int{12}, Epochs: 5}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Model.Layers) != 2 || !res.Model.Layers[0].ReLU || res.Model.Layers[1].ReLU || res.Model.Layers[1].Out != 1 {
		t.Fatalf("unexpected shape %+v", res.Model.Layers)
	}
	acts := [][]float64{make([]float64, 12), make([]float64, 1)}
	for i := range x.Rows {
		want := modelkit.Sigmoid(forward(res.Model, x.Row(i), acts))
		if got := res.Model.Predict(x.Row(i)); math.Abs(got-want) > 1e-12 {
			t.Fatalf("row %d: Predict %v, forward pass %v", i, got, want)
		}
	}
}

func TestBackpropagationMatchesFiniteDifferences(t *testing.T) {
	x, y := modeltest.XOR(20, 3, 0.2, 9)
	tr := newTrainer(x, y, Params{Hidden: []int{5, 4}}, rand.New(rand.NewPCG(1, 1)))
	for l := range tr.net.Layers { // non-zero biases exercise them too
		for o := range tr.net.Layers[l].B {
			tr.net.Layers[l].B[o] = 0.1 * float64(o+1)
		}
	}
	tr.backward(tr.order)
	sumLoss := func() float64 { return logLoss(tr.net, x, y, tr.acts) * float64(x.Rows) }
	const h = 1e-6
	check := func(name string, v []float64, g []float64) {
		for k := range v {
			orig := v[k]
			v[k] = orig + h
			up := sumLoss()
			v[k] = orig - h
			down := sumLoss()
			v[k] = orig
			if num := (up - down) / (2 * h); math.Abs(num-g[k]) > 1e-5*math.Max(1, math.Abs(num)) {
				t.Errorf("%s[%d]: backprop %v, finite difference %v", name, k, g[k], num)
			}
		}
	}
	for l := range tr.net.Layers {
		check("W", tr.net.Layers[l].W, tr.grad.w[l])
		check("B", tr.net.Layers[l].B, tr.grad.b[l])
	}
}

func TestTrainRejectsInputItCannotTrainOn(t *testing.T) {
	good := modelkit.Matrix{Rows: 2, Cols: 1, Data: []float64{0, 1}}
	labels := []float64{0, 1}
	wide := modelkit.Matrix{Rows: 2, Cols: 2, Data: []float64{0, 1, 2, 3}}
	cases := []struct {
		name string
		x    modelkit.Matrix
		y    []float64
		xVal modelkit.Matrix
		yVal []float64
		p    Params
		want error
	}{
		{"an empty training matrix is refused", modelkit.Matrix{}, nil, good, labels, Params{}, ErrInvalidData},
		{"an empty validation matrix is refused", good, labels, modelkit.Matrix{}, nil, Params{}, ErrInvalidData},
		{"data shorter than rows times columns is refused", modelkit.Matrix{Rows: 2, Cols: 2, Data: []float64{0}}, labels, good, labels, Params{}, ErrInvalidData},
		{"fewer labels than rows are refused", good, []float64{1}, good, labels, Params{}, ErrInvalidData},
		{"fewer validation labels than rows are refused", good, labels, good, []float64{1}, Params{}, ErrInvalidData},
		{"validation columns that differ from training are refused", good, labels, wide, labels, Params{}, ErrInvalidData},
		{"a NaN feature is refused", modelkit.Matrix{Rows: 2, Cols: 1, Data: []float64{0, math.NaN()}}, labels, good, labels, Params{}, ErrInvalidData},
		{"an infinite validation feature is refused", good, labels, modelkit.Matrix{Rows: 2, Cols: 1, Data: []float64{0, math.Inf(-1)}}, labels, Params{}, ErrInvalidData},
		{"a label of 0.5 is refused", good, []float64{0, 0.5}, good, labels, Params{}, ErrInvalidData},
		{"a validation label of -1 is refused", good, labels, good, []float64{-1, 1}, Params{}, ErrInvalidData},
		{"training labels of one class are refused", good, []float64{0, 0}, good, labels, Params{}, ErrInvalidData},
		{"three hidden layers are refused", good, labels, good, labels, Params{Hidden: []int{4, 4, 4}}, ErrInvalidParams},
		{"a hidden layer of width 0 is refused", good, labels, good, labels, Params{Hidden: []int{4, 0}}, ErrInvalidParams},
		{"a negative learning rate is refused", good, labels, good, labels, Params{LearningRate: -1}, ErrInvalidParams},
		{"an infinite learning rate is refused", good, labels, good, labels, Params{LearningRate: math.Inf(1)}, ErrInvalidParams},
		{"a NaN L2 is refused", good, labels, good, labels, Params{L2: math.NaN()}, ErrInvalidParams},
		{"a negative batch size is refused", good, labels, good, labels, Params{BatchSize: -1}, ErrInvalidParams},
		{"a negative epoch count is refused", good, labels, good, labels, Params{Epochs: -1}, ErrInvalidParams},
		{"a negative patience is refused", good, labels, good, labels, Params{Patience: -1}, ErrInvalidParams},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := Train(c.x, c.y, c.xVal, c.yVal, c.p, 1)
			if !errors.Is(err, c.want) || res != nil {
				t.Fatalf("got %v, %v; want an error wrapping %v", res, err, c.want)
			}
		})
	}
}

func TestALearningRateThatOverflowsReportsDivergence(t *testing.T) {
	x, y := modeltest.XOR(200, 3, 0.1, 10)
	res, err := Train(x, y, x, y, Params{LearningRate: 1e300, Epochs: 5, Patience: 2}, 1)
	if !errors.Is(err, ErrDiverged) || res != nil {
		t.Fatalf("got %v, %v; want ErrDiverged", res, err)
	}
}

func BenchmarkTrainOneEpoch8000x13(b *testing.B) {
	x, y := modeltest.XOR(8000, 13, 0.1, 11)
	tr := newTrainer(x, y, Params{}.withDefaults(), rand.New(rand.NewPCG(1, 1)))
	for b.Loop() {
		tr.epoch()
	}
}

func BenchmarkPredictOneRow32x16(b *testing.B) {
	x, y := modeltest.XOR(1, 13, 0, 12)
	net := newTrainer(x, y, Params{}.withDefaults(), rand.New(rand.NewPCG(1, 1))).net
	row := x.Row(0)
	for b.Loop() {
		net.Predict(row)
	}
}
