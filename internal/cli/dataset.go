package cli

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/planner"
)

// DataOptions say what a job trains on: CSV files, or synthetic customers.
type DataOptions struct {
	Data, Test string
	Target     string
	Positive   string
	Rows       int
	Seed       uint64
}

func (o *DataOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Data, "data", "", "training CSV with a header (default: synthetic churn customers)")
	fs.StringVar(&o.Test, "test", "", "holdout CSV, used only for the final scores (default: a stratified 15% of --data)")
	fs.StringVar(&o.Target, "target", "", "the label column of --data (default: "+planner.SyntheticTarget+")")
	fs.StringVar(&o.Positive, "positive", "", "the label that means churn when it is not 1, true or yes")
	fs.IntVar(&o.Rows, "rows", 0, "synthetic customers to generate without --data (default 20000)")
	fs.Uint64Var(&o.Seed, "seed", planner.DefaultSeed, "seed of the data split, the model search and the trainers")
}

// check validates the flags together, before anything starts.
func (o *DataOptions) check() error {
	switch {
	case o.Data == "" && o.Test != "":
		return usagef("--test %s needs --data: the holdout belongs to a training file", o.Test)
	case o.Data == "" && o.Positive != "":
		return usagef("--positive needs --data: the synthetic data labels churn 1")
	case o.Data != "" && o.Rows != 0:
		return usagef("--rows sizes synthetic data; it cannot be used with --data")
	case o.Rows != 0 && (o.Rows < 100 || o.Rows > planner.MaxSyntheticRows):
		return usagef("--rows %d: want 100 to %d", o.Rows, planner.MaxSyntheticRows)
	case o.Data == "" && o.Target != "" && o.Target != planner.SyntheticTarget:
		return usagef("--target %s needs --data: the synthetic data's label is %s", o.Target, planner.SyntheticTarget)
	case o.Data != "" && o.Target == "":
		return usagef("--target is required with --data: name the label column")
	}
	for _, f := range []struct{ flag, path string }{{"--data", o.Data}, {"--test", o.Test}} {
		if f.path == "" {
			continue
		}
		if err := checkHeader(f.path, o.Target); err != nil {
			return usagef("%s %s: %v", f.flag, f.path, err)
		}
	}
	return nil
}

// checkHeader reads a CSV's header and checks that it names the target,
// so that a wrong file or column fails before any server starts.
func checkHeader(path, target string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return errors.New("the file is empty")
	}
	if err != nil {
		return fmt.Errorf("read the header: %w", err)
	}
	if !slices.Contains(header, target) {
		shown := header
		if len(shown) > 20 {
			shown = append(shown[:20:20], "...")
		}
		return fmt.Errorf("no column %q (columns: %s)", target, strings.Join(shown, ", "))
	}
	return nil
}

// plan stores the job's data and plans the goal over it.
func (o *DataOptions) plan(ctx context.Context, store *artifacts.Store, goal string) (*planner.Plan, error) {
	data, err := o.dataset(ctx, store)
	if err != nil {
		return nil, err
	}
	return planner.DecomposeData(goal, nil, data)
}

// dataset stores the data files as blobs, so that workers on any node read
// the same bytes, and describes them for the planner.
func (o *DataOptions) dataset(ctx context.Context, store *artifacts.Store) (planner.Dataset, error) {
	d := planner.Dataset{Target: o.Target, Positive: o.Positive, Rows: o.Rows, Seed: o.Seed}
	for _, f := range []struct {
		path         string
		digest, name *string
	}{{o.Data, &d.Train, &d.TrainName}, {o.Test, &d.Test, &d.TestName}} {
		if f.path == "" {
			continue
		}
		data, err := os.ReadFile(f.path)
		if err != nil {
			return d, err
		}
		if *f.digest, err = store.Put(ctx, data); err != nil {
			return d, fmt.Errorf("store %s: %w", f.path, err)
		}
		*f.name = filepath.Base(f.path)
	}
	return d, nil
}
