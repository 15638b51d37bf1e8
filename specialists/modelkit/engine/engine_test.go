package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
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

func TestTheSameDataAndSeedGiveTheSameBytes(t *testing.T) {
	data := churnCSV(t, 2000)
	_, outA := run(t, data)
	_, outB := run(t, data)
	a, b := treeBytes(t, outA), treeBytes(t, outB)
	if len(a) < 8 {
		t.Fatalf("the run wrote %d files, want the models, metrics, card, features and plots", len(a))
	}
	for name, data := range a {
		if !bytes.Equal(data, b[name]) {
			t.Errorf("%s differs between two runs", name)
		}
	}
	if len(a) != len(b) {
		t.Errorf("the runs wrote %d and %d files", len(a), len(b))
	}
}

// treeBytes reads every file under dir, keyed by its slash path.
func treeBytes(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
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
