package evaluate_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/evaluate"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// bruteAUC counts, over every positive-negative pair, wins as 1 and ties
// as 1/2: the definition ROC AUC stands for.
func bruteAUC(y, p []float64) float64 {
	wins, pairs := 0.0, 0.0
	for i := range y {
		for j := range y {
			if y[i] == 1 && y[j] == 0 {
				pairs++
				switch {
				case p[i] > p[j]:
					wins++
				case p[i] == p[j]:
					wins += 0.5
				}
			}
		}
	}
	return wins / pairs
}

// bruteAP is average precision: the precision at each distinct threshold
// weighted by the recall it adds.
func bruteAP(y, p []float64) float64 {
	pos := 0.0
	for _, v := range y {
		pos += v
	}
	seen := map[float64]bool{}
	ap := 0.0
	for _, t := range p {
		if seen[t] {
			continue
		}
		seen[t] = true
		tp, fp, tpAt := 0.0, 0.0, 0.0
		for i := range p {
			if p[i] >= t {
				if y[i] == 1 {
					tp++
				} else {
					fp++
				}
			}
			if p[i] == t && y[i] == 1 {
				tpAt++
			}
		}
		ap += tpAt / pos * tp / (tp + fp)
	}
	return ap
}

func randomCase(seed uint64, n int) ([]float64, []float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	y, p := make([]float64, n), make([]float64, n)
	for i := range y {
		if rng.Float64() < 0.3 {
			y[i] = 1
		}
		// Scores on a coarse grid, so that ties are frequent.
		p[i] = math.Round((0.3*y[i]+0.7*rng.Float64())*20) / 20
	}
	y[0], y[1] = 1, 0
	return y, p
}

func TestRankingMetricsMatchTheirDefinitions(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		y, p := randomCase(seed, 300)
		m, err := evaluate.Score(y, p, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if want := bruteAUC(y, p); !near(m.ROCAUC, want) {
			t.Errorf("seed %d: ROC AUC %v, definition gives %v", seed, m.ROCAUC, want)
		}
		if want := bruteAP(y, p); !near(m.PRAUC, want) {
			t.Errorf("seed %d: PR AUC %v, definition gives %v", seed, m.PRAUC, want)
		}
	}
}

func TestKnownValues(t *testing.T) {
	y := []float64{1, 0, 1, 0}
	cases := []struct {
		name      string
		p         []float64
		auc       float64
		logLoss   float64
		brier     float64
		precision float64
		recall    float64
	}{
		{"a perfect ranking", []float64{0.9, 0.1, 0.8, 0.2}, 1, -(math.Log(0.9) + math.Log(0.9) + math.Log(0.8) + math.Log(0.8)) / 4, (0.01 + 0.01 + 0.04 + 0.04) / 4, 1, 1},
		{"a reversed ranking", []float64{0.1, 0.9, 0.2, 0.8}, 0, -(math.Log(0.1) + math.Log(0.1) + math.Log(0.2) + math.Log(0.2)) / 4, (0.81 + 0.81 + 0.64 + 0.64) / 4, 0, 0},
		{"all scores equal", []float64{0.5, 0.5, 0.5, 0.5}, 0.5, math.Log(2), 0.25, 0.5, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := evaluate.Score(y, c.p, 0.5)
			if err != nil {
				t.Fatal(err)
			}
			if !near(m.ROCAUC, c.auc) || !near(m.LogLoss, c.logLoss) || !near(m.Brier, c.brier) || !near(m.Precision, c.precision) || !near(m.Recall, c.recall) {
				t.Errorf("got %+v", m)
			}
		})
	}
}

func TestTheBestF1ThresholdIsTheBestOfAllCuts(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		y, p := randomCase(seed, 200)
		th, err := evaluate.BestF1Threshold(y, p)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := evaluate.Score(y, p, th)
		for _, cut := range p {
			if m, _ := evaluate.Score(y, p, cut); m.F1 > got.F1+1e-12 {
				t.Fatalf("seed %d: threshold %v gives F1 %v, better than the chosen %v (%v)", seed, cut, m.F1, th, got.F1)
			}
		}
	}
}

func TestCurves(t *testing.T) {
	y, p := randomCase(3, 500)
	bins, err := evaluate.Reliability(y, p, 10)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range bins {
		n += b.Count
		if b.MeanPredicted < b.Lower || b.MeanPredicted > b.Upper {
			t.Errorf("bin %+v: mean outside its range", b)
		}
	}
	if n != len(y) {
		t.Errorf("bins hold %d predictions, want %d", n, len(y))
	}
	fpr, tpr, _ := evaluate.ROCPoints(y, p)
	if fpr[0] != 0 || tpr[0] != 0 || fpr[len(fpr)-1] != 1 || tpr[len(tpr)-1] != 1 {
		t.Errorf("ROC curve runs from (%v,%v) to (%v,%v)", fpr[0], tpr[0], fpr[len(fpr)-1], tpr[len(tpr)-1])
	}
	recall, precision, _ := evaluate.PRPoints(y, p)
	if recall[len(recall)-1] != 1 || len(recall) != len(precision) {
		t.Errorf("PR curve ends at recall %v", recall[len(recall)-1])
	}
}

func TestBadInputIsRefused(t *testing.T) {
	cases := map[string][2][]float64{
		"no rows":                 {{}, {}},
		"lengths differ":          {{1, 0}, {0.5}},
		"one class":               {{1, 1}, {0.2, 0.3}},
		"a label that is not 0/1": {{1, 2}, {0.2, 0.3}},
		"a NaN prediction":        {{1, 0}, {math.NaN(), 0.3}},
		"a prediction above 1":    {{1, 0}, {1.2, 0.3}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := evaluate.Score(c[0], c[1], 0.5); !errors.Is(err, evaluate.ErrBadInput) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestPlotsArePNGImages(t *testing.T) {
	y, good := randomCase(5, 400)
	_, poor := randomCase(6, 400)
	curves := []evaluate.Curve{{Name: "gbdt", Y: y, P: good}, {Name: "lr", Y: y, P: poor[:400]}}
	for _, kind := range []evaluate.Plot{evaluate.PlotROC, evaluate.PlotPR, evaluate.PlotReliability} {
		png, err := evaluate.PlotPNG(kind, curves)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if len(png) < 1000 || string(png[1:4]) != "PNG" {
			t.Errorf("%s: %d bytes, not a PNG image", kind, len(png))
		}
	}
	if _, err := evaluate.PlotPNG("pie", curves); !errors.Is(err, evaluate.ErrBadInput) {
		t.Errorf("an unknown plot: %v", err)
	}
}
