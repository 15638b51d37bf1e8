package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/engine"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/synth"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/tabular"
)

func churnCSV(t *testing.T, rows int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "churn.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := synth.Churn(f, rows, 11); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, data string) (*engine.Report, string) {
	t.Helper()
	out := t.TempDir()
	rep, err := engine.Run(context.Background(), engine.Options{Data: data, Target: "Exited", Trials: 2, Seed: 5, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	return rep, out
}

func TestATrainingRunWritesModelsMetricsAndFigures(t *testing.T) {
	rep, out := run(t, churnCSV(t, 4000))
	if len(rep.Models) != 3 || rep.Best == "" || rep.DataSHA256 == "" {
		t.Fatalf("report %+v", rep)
	}
	byName := map[string]engine.ModelReport{}
	for _, m := range rep.Models {
		byName[m.Name] = m
		if m.ONNXMaxDiff > 1e-4 || m.Test.ROCAUC < 0.6 {
			t.Errorf("%s: test AUC %.3f, ONNX differs by %g", m.Name, m.Test.ROCAUC, m.ONNXMaxDiff)
		}
		if _, err := os.Stat(filepath.Join(out, m.ONNX)); err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
	}
	// The synthetic signal is built from interactions and thresholds:
	// trees must find what a linear model cannot.
	if g, l := byName["gbdt"].Test.ROCAUC, byName["lr"].Test.ROCAUC; g <= l+0.02 {
		t.Errorf("gbdt test AUC %.4f does not beat logistic regression's %.4f", g, l)
	}
	var onDisk engine.Report
	data, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	if err != nil || json.Unmarshal(data, &onDisk) != nil || onDisk.Best != rep.Best {
		t.Errorf("metrics.json: %v", err)
	}
	for _, f := range []string{"model_card.md", "features.json", "plots/roc.png", "plots/pr.png", "plots/calibration.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestTheSameDataAndSeedGiveTheSameModels(t *testing.T) {
	data := churnCSV(t, 2000)
	a, outA := run(t, data)
	b, outB := run(t, data)
	for i := range a.Models {
		fa, _ := os.ReadFile(filepath.Join(outA, a.Models[i].ONNX))
		fb, _ := os.ReadFile(filepath.Join(outB, b.Models[i].ONNX))
		if len(fa) == 0 || string(fa) != string(fb) {
			t.Errorf("%s: the ONNX files differ", a.Models[i].Name)
		}
		a.Models[i].TrainSeconds, b.Models[i].TrainSeconds = 0, 0 // wall time is the one thing allowed to differ
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Errorf("the metrics differ:\n%s\n%s", ja, jb)
	}
}

func TestBadOptionsAndDataAreRefused(t *testing.T) {
	data := churnCSV(t, 200)
	cases := []struct {
		name string
		opts engine.Options
		want error
	}{
		{"an unknown family", engine.Options{Data: data, Target: "Exited", Out: t.TempDir(), Models: []string{"svm"}}, engine.ErrUsage},
		{"a missing file", engine.Options{Data: "/nonexistent.csv", Target: "Exited", Out: t.TempDir()}, engine.ErrUsage},
		{"a missing target column", engine.Options{Data: data, Target: "Churned", Out: t.TempDir()}, tabular.ErrBadData},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := engine.Run(context.Background(), c.opts); !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
		})
	}
}
