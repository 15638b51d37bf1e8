package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/engine"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/tabular"
)

func TestTrainFlagsBecomeOptions(t *testing.T) {
	f, _, _ := testFactory()
	var got *TrainOptions
	cmd := NewCmdTrain(f, func(_ context.Context, o *TrainOptions) error { got = o; return nil })
	err := parse(t, f, cmd, "train", "--data", "a.csv", "--test", "b.csv", "--target", "Exited", "--models", "lr,gbdt", "--budget", "30s", "--seed", "7", "--out", "m", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	want := TrainOptions{Data: "a.csv", Test: "b.csv", Target: "Exited", Models: []string{"lr", "gbdt"}, Budget: "30s", Seed: 7, Out: "m", Output: "json"}
	if got.Data != want.Data || got.Test != want.Test || strings.Join(got.Models, ",") != "lr,gbdt" || got.Budget != want.Budget || got.Seed != 7 || got.Output != "json" {
		t.Errorf("options = %+v", *got)
	}
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"train", "--target", "y", "--out", "m"}, "--data is required"},
		{[]string{"train", "--data", "a", "--out", "m"}, "--target is required"},
		{[]string{"train", "--data", "a", "--target", "y", "--out", "m", "--budget", "lots"}, `--budget "lots"`},
		{[]string{"train", "--data", "a", "--target", "y", "--out", "m", "--kind", "Age=fuzzy"}, `--kind "Age=fuzzy"`},
	} {
		f, _, _ := testFactory()
		checkParse(t, parse(t, f, NewCmdTrain(f, func(context.Context, *TrainOptions) error { return nil }), c.args...), c.err)
	}
	if k, err := parseKinds([]string{"Tenure=categorical"}); err != nil || k["Tenure"] != tabular.Categorical {
		t.Errorf("parseKinds = %v, %v", k, err)
	}
	if n, d, err := parseBudget("90s"); err != nil || d != 90*time.Second || n < 1 {
		t.Errorf("parseBudget(90s) = %d, %v, %v", n, d, err)
	}
}

func TestTrainPrintsTheMetricsAsJSON(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "churn.csv")
	if code, _, stderr := execute(t, "datagen", "churn", "--rows", "1500", "--out", data); code != 0 {
		t.Fatalf("datagen: %s", stderr)
	}
	out := filepath.Join(dir, "model")
	code, stdout, stderr := execute(t, "train", "--data", data, "--target", "Exited", "--models", "lr,gbdt", "--budget", "1", "--out", out, "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep engine.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not the metrics JSON: %v\n%s", err, stdout)
	}
	if len(rep.Models) != 2 || rep.Models[0].Test.ROCAUC <= 0.5 || !strings.Contains(stderr, "gbdt trial 1 of 1") {
		t.Errorf("report %+v; progress %s", rep, stderr)
	}
	code, _, stderr = execute(t, "train", "--data", data, "--target", "NoSuchColumn", "--out", filepath.Join(dir, "m2"))
	if code != ExitUsage || !strings.Contains(stderr, "NoSuchColumn") {
		t.Errorf("a missing target: exit %d, %s", code, stderr)
	}
}
