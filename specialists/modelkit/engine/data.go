package engine

import (
	"fmt"
	"os"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/features"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/tabular"
)

// dataset is the three splits as feature matrices, with the feature step
// fitted on the training split alone.
type dataset struct {
	train, val, test    *tabular.Frame
	pipeline            *features.Pipeline
	names               []string
	xTrain, xVal, xTest modelkit.Matrix
	yTrain, yVal, yTest []float64
	trainSHA, testSHA   string
}

func readFrame(path string, opts Options) (*tabular.Frame, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	defer f.Close()
	fr, err := tabular.ReadCSV(f, tabular.ReadOptions{Target: opts.Target, Positive: opts.Positive, Kinds: opts.Kinds})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return fr, nil
}

// load reads the data, makes the splits, fits the feature step on the
// training split and turns every split into a matrix.
func load(opts Options) (*dataset, error) {
	d, err := split(opts)
	if err != nil {
		return nil, err
	}
	for _, s := range []struct {
		f *tabular.Frame
		x *modelkit.Matrix
		y *[]float64
	}{{d.train, &d.xTrain, &d.yTrain}, {d.val, &d.xVal, &d.yVal}, {d.test, &d.xTest, &d.yTest}} {
		if *s.x, err = d.pipeline.Transform(s.f); err != nil {
			return nil, err
		}
		*s.y = s.f.Target
	}
	return d, nil
}

// split reads the data, makes the splits and fits the feature step on the
// training split: with a test file, 85/15 of the data for training and
// validation; without, 70/15/15 of the data.
func split(opts Options) (*dataset, error) {
	all, err := readFrame(opts.Data, opts)
	if err != nil {
		return nil, err
	}
	d := &dataset{trainSHA: all.SHA256}
	if opts.Test != "" {
		test, err := readFrame(opts.Test, opts)
		if err != nil {
			return nil, err
		}
		parts := tabular.StratifiedSplit(all.Target, opts.Seed, 0.85, 0.15)
		d.train, d.val, d.test, d.testSHA = all.Subset(parts[0]), all.Subset(parts[1]), test, test.SHA256
	} else {
		parts := tabular.StratifiedSplit(all.Target, opts.Seed, 0.70, 0.15, 0.15)
		d.train, d.val, d.test = all.Subset(parts[0]), all.Subset(parts[1]), all.Subset(parts[2])
	}
	if d.pipeline, err = features.Fit(d.train); err != nil {
		return nil, fmt.Errorf("fit the feature step: %w", err)
	}
	d.names = d.pipeline.Names()
	return d, nil
}

// FeatureStep reads and splits the data as Run does and returns the
// feature step fitted on the training split, and the columns read as
// identifiers (which the step leaves out). Code generated for a data set
// uses it to know the columns the models will take.
func FeatureStep(opts Options) (*features.Pipeline, []string, error) {
	if opts.Data == "" || opts.Target == "" {
		return nil, nil, fmt.Errorf("%w: data and target are required", ErrUsage)
	}
	// The step is all it needs: the splits are not turned into matrices.
	d, err := split(opts)
	if err != nil {
		return nil, nil, err
	}
	var ids []string
	for _, c := range d.train.Columns {
		if c.Kind == tabular.Identifier {
			ids = append(ids, c.Name)
		}
	}
	return d.pipeline, ids, nil
}
