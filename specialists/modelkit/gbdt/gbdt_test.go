package gbdt

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/internal/modeltest"
)

func predictAll(m *modelkit.Ensemble, x modelkit.Matrix) []float64 {
	p := make([]float64, x.Rows)
	for i := range p {
		p[i] = m.Predict(x.Row(i))
	}
	return p
}

func modelJSON(t *testing.T, m *modelkit.Ensemble) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTrainRanksAnInteractionNoLinearModelCanSee(t *testing.T) {
	x, y := modeltest.XOR(4000, 4, 0.05, 1)
	xVal, yVal := modeltest.XOR(1000, 4, 0.05, 2)
	xTest, yTest := modeltest.XOR(2000, 4, 0.05, 3)
	res, err := Train(x, y, xVal, yVal, Params{}, 7)
	if err != nil {
		t.Fatal(err)
	}
	if got := modeltest.AUC(yTest, predictAll(res.Model, xTest)); got <= 0.9 {
		t.Errorf("held-out AUC is %.4f, want > 0.9", got)
	}
}

func TestTreesOnRawFloatsFollowTheBinnedPathOfEveryTrainingRow(t *testing.T) {
	x, y := modeltest.XOR(3000, 5, 0.1, 4)
	// Repeated and adjacent floating-point values stress the thresholds.
	for i := 0; i < x.Rows; i++ {
		x.Data[i*x.Cols+2] = math.Round(x.Data[i*x.Cols+2] * 3)
		x.Data[i*x.Cols+3] = math.Nextafter(1, 2) + float64(i%3)*math.SmallestNonzeroFloat64
		if i%2 == 0 {
			x.Data[i*x.Cols+4] = 1
		} else {
			x.Data[i*x.Cols+4] = math.Nextafter(1, 2)
		}
	}
	res, logits, err := train(x, y, modelkit.Matrix{}, nil, Params{Rounds: 60, MaxDepth: 5, MinSamplesLeaf: 5, Bins: 16, RowSubsample: 0.7}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Model.Trees) != 60 {
		t.Fatalf("kept %d trees, want all 60 without validation data", len(res.Model.Trees))
	}
	for i := 0; i < x.Rows; i++ {
		z := res.Model.Base
		for k := range res.Model.Trees {
			z += res.Model.Trees[k].Eval(x.Row(i))
		}
		if z != logits[i] {
			t.Fatalf("row %d: logit on raw floats is %v, on bins %v", i, z, logits[i])
		}
	}
}

func TestQuantizerSplitsMatchThresholdsForEveryValue(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		bins   int
	}{
		{"few distinct values get a bin each", []float64{3, 1, 2, 2, 1, 3, 3}, 255},
		{"adjacent floats are kept apart", []float64{1, math.Nextafter(1, 2), math.Nextafter(math.Nextafter(1, 2), 2), 0}, 255},
		{"infinities and signed zeros are ordered", []float64{math.Inf(-1), math.Copysign(0, -1), 0, math.Inf(1), -5, 5}, 255},
		{"many values share few bins", rangeValues(1000), 7},
		{"a heavy tie collapses quantiles", append(make([]float64, 900), rangeValues(100)...), 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := modelkit.Matrix{Rows: len(tt.values), Cols: 1, Data: slices.Clone(tt.values)}
			q := newQuantizer(x, tt.bins, 2)
			e := q.edges[0]
			if len(e) >= tt.bins || !slices.IsSorted(e) || len(slices.Compact(slices.Clone(e))) != len(e) {
				t.Fatalf("edges %v: want fewer than %d, strictly increasing", e, tt.bins)
			}
			for _, v := range tt.values {
				for b := range e {
					if (q.bin(0, v) <= uint8(b)) != (v < e[b]) {
						t.Errorf("value %v is in bin %d but compares %v with edge %d = %v", v, q.bin(0, v), v < e[b], b, e[b])
					}
				}
			}
			distinct := len(slices.Compact(slices.Sorted(slices.Values(tt.values))))
			if distinct <= tt.bins && len(e) != distinct-1 {
				t.Errorf("%d edges for %d distinct values, want one bin per value", len(e), distinct)
			}
		})
	}
}

func rangeValues(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(i) * 0.37
	}
	return v
}

func TestTrainIsReproducibleForASeedWhateverTheWorkers(t *testing.T) {
	x, y := modeltest.XOR(3000, 6, 0.1, 5)
	xVal, yVal := modeltest.XOR(500, 6, 0.1, 6)
	p := Params{Rounds: 80, RowSubsample: 0.8, ColSubsample: 0.7, Workers: 1}
	var models []string
	for _, workers := range []int{1, 1, 2, 3} {
		p.Workers = workers
		res, err := Train(x, y, xVal, yVal, p, 11)
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, modelJSON(t, res.Model))
	}
	for i, m := range models[1:] {
		if m != models[0] {
			t.Errorf("training %d differs from the first", i+1)
		}
	}
	other, err := Train(x, y, xVal, yVal, p, 12)
	if err != nil {
		t.Fatal(err)
	}
	if modelJSON(t, other.Model) == models[0] {
		t.Error("another seed gave the same subsampled model")
	}
}

func TestEarlyStoppingKeepsTheRoundOfLeastValidationLoss(t *testing.T) {
	// Pure noise: every tree overfits, so validation loss soon rises.
	x, y := modeltest.XOR(2000, 5, 0.5, 8)
	xVal, yVal := modeltest.XOR(1000, 5, 0.5, 9)
	res, err := Train(x, y, xVal, yVal, Params{Rounds: 500, LearningRate: 0.3, EarlyStopping: 10}, 1)
	if err != nil {
		t.Fatal(err)
	}
	grown := len(res.ValidLogLoss) - 1
	if grown >= 500 {
		t.Fatalf("grew all %d rounds, want an early stop", grown)
	}
	argmin := 0
	for r, l := range res.ValidLogLoss {
		if l < res.ValidLogLoss[argmin] {
			argmin = r
		}
	}
	if res.BestRound != argmin || len(res.Model.Trees) != argmin {
		t.Errorf("BestRound %d with %d trees, want the argmin %d", res.BestRound, len(res.Model.Trees), argmin)
	}
	if grown != argmin+10 {
		t.Errorf("stopped after %d rounds, want %d: ten past the best", grown, argmin+10)
	}
}

func TestTrainRejectsBadInput(t *testing.T) {
	x, y := modeltest.XOR(100, 3, 0.1, 10)
	nanX := modelkit.Matrix{Rows: x.Rows, Cols: x.Cols, Data: slices.Clone(x.Data)}
	nanX.Data[7] = math.NaN()
	badY := slices.Clone(y)
	badY[3] = 0.5
	ones := filled(len(y), 1)
	short := modelkit.Matrix{Rows: x.Rows, Cols: x.Cols, Data: x.Data[:10]}
	wideVal, _ := modeltest.XOR(10, 4, 0, 11)
	tests := []struct {
		name       string
		x          modelkit.Matrix
		y          []float64
		xVal       modelkit.Matrix
		yVal       []float64
		p          Params
		wantParams bool
	}{
		{"empty features are refused", modelkit.Matrix{}, nil, modelkit.Matrix{}, nil, Params{}, false},
		{"fewer labels than rows are refused", x, y[:50], modelkit.Matrix{}, nil, Params{}, false},
		{"a matrix missing data is refused", short, y, modelkit.Matrix{}, nil, Params{}, false},
		{"NaN features are refused", nanX, y, modelkit.Matrix{}, nil, Params{}, false},
		{"labels other than 0 and 1 are refused", x, badY, modelkit.Matrix{}, nil, Params{}, false},
		{"labels of one class are refused", x, ones, modelkit.Matrix{}, nil, Params{}, false},
		{"validation labels without rows are refused", x, y, modelkit.Matrix{}, y[:5], Params{}, false},
		{"validation with other features is refused", x, y, wideVal, y[:10], Params{}, false},
		{"NaN validation features are refused", x, y, nanX, y, Params{}, false},
		{"a negative learning rate is refused", x, y, modelkit.Matrix{}, nil, Params{LearningRate: -1}, true},
		{"a subsample above one is refused", x, y, modelkit.Matrix{}, nil, Params{RowSubsample: 1.5}, true},
		{"more bins than a byte holds are refused", x, y, modelkit.Matrix{}, nil, Params{Bins: 257}, true},
		{"negative workers are refused", x, y, modelkit.Matrix{}, nil, Params{Workers: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Train(tt.x, tt.y, tt.xVal, tt.yVal, tt.p, 1)
			want := ErrInvalidData
			if tt.wantParams {
				want = ErrInvalidParams
			}
			if !errors.Is(err, want) || res != nil {
				t.Errorf("got %v, %v; want an error wrapping %v", res, err, want)
			}
		})
	}
}
