// Package engine runs a training job: read the data, split it, fit the
// feature step, search each model family's parameters on validation AUC,
// score the best of each family once on the test split, export every
// model as ONNX (checked against the Go runtime) and write metrics.json,
// model_card.md and the evaluation figures.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/evaluate"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/onnxmodel"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/tabular"
)

// Families of models, as --models names them.
const (
	FamilyLR   = "lr"
	FamilyGBDT = "gbdt"
	FamilyMLP  = "mlp"
)

// Options of a training run. Zero values mean the documented defaults.
type Options struct {
	// Data is the training CSV; Test, when set, is the holdout, used for
	// nothing but the final score. Without Test a stratified 15% of Data
	// is held out.
	Data, Test string
	Target     string
	Positive   string
	// Kinds override the inferred kinds of columns.
	Kinds map[string]tabular.Kind
	// Models are the families to train; empty means lr, gbdt, mlp.
	Models []string
	// Trials per family of the random search; zero means 8 (the lr
	// family tries at most 4 strengths).
	Trials int
	// Budget, when set, bounds the search's time: each family gets an
	// equal share and stops drawing candidates when its share is spent
	// (after at least one).
	Budget time.Duration
	Seed   uint64
	Out    string
	// Progress receives a line per trial; nil discards them.
	Progress io.Writer
}

// Report is metrics.json.
type Report struct {
	DataSHA256 string        `json:"data_sha256"`
	TestSHA256 string        `json:"test_sha256,omitempty"`
	Target     string        `json:"target"`
	Rows       SplitRows     `json:"rows"`
	Features   []string      `json:"features"`
	Best       string        `json:"best"`
	Models     []ModelReport `json:"models"`
}

// SplitRows counts the rows of each split.
type SplitRows struct {
	Train      int `json:"train"`
	Validation int `json:"validation"`
	Test       int `json:"test"`
}

// ModelReport is one family's best model.
type ModelReport struct {
	Name   string         `json:"name"`
	Family string         `json:"family"`
	Params map[string]any `json:"params"`
	Seed   uint64         `json:"seed"`
	Trials int            `json:"trials"`
	// TrainSeconds is the wall time of the winning trial. It stays out of
	// metrics.json, which must be the same bytes for the same data and seed.
	TrainSeconds float64          `json:"-"`
	Validation   evaluate.Metrics `json:"validation"`
	Test         evaluate.Metrics `json:"test"`
	ONNX         string           `json:"onnx"`
	// ONNXMaxDiff is the largest difference between the Go runtime's
	// probabilities from the ONNX file and the trainer's on the test split.
	ONNXMaxDiff float64 `json:"onnx_max_abs_diff"`
}

// ErrUsage is wrapped by errors in the options.
var ErrUsage = errors.New("bad training options")

// trained is one candidate: a model and how to predict and export it.
type trained struct {
	params  map[string]any
	predict func([]float64) float64
	export  func(nFeatures int) ([]byte, error)
	seconds float64
}

// Run trains, evaluates and writes everything into opts.Out.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Data == "" || opts.Target == "" || opts.Out == "" {
		return nil, fmt.Errorf("%w: data, target and out are required", ErrUsage)
	}
	if len(opts.Models) == 0 {
		opts.Models = []string{FamilyLR, FamilyGBDT, FamilyMLP}
	}
	for _, m := range opts.Models {
		if !slices.Contains([]string{FamilyLR, FamilyGBDT, FamilyMLP}, m) {
			return nil, fmt.Errorf("%w: unknown model family %q (want lr, gbdt or mlp)", ErrUsage, m)
		}
	}
	if opts.Trials <= 0 {
		opts.Trials = 8
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	d, err := load(opts)
	if err != nil {
		return nil, err
	}
	rep := &Report{DataSHA256: d.trainSHA, TestSHA256: d.testSHA, Target: opts.Target, Features: d.names,
		Rows: SplitRows{Train: d.train.Rows, Validation: d.val.Rows, Test: d.test.Rows}}
	fmt.Fprintf(progress, "data %s: %d train, %d validation, %d test rows, %d features\n",
		opts.Data, d.train.Rows, d.val.Rows, d.test.Rows, len(d.names))
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	var curves []evaluate.Curve
	bestAUC := math.Inf(-1)
	for _, family := range opts.Models {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		mr, testP, err := trainFamily(ctx, family, d, opts, progress)
		if err != nil {
			return nil, err
		}
		rep.Models = append(rep.Models, *mr)
		curves = append(curves, evaluate.Curve{Name: mr.Name, Y: d.yTest, P: testP})
		if mr.Validation.ROCAUC > bestAUC {
			bestAUC, rep.Best = mr.Validation.ROCAUC, mr.Name
		}
	}
	if err := writeOutputs(opts.Out, rep, d, curves); err != nil {
		return nil, err
	}
	return rep, nil
}

// trainFamily runs the random search of one family on validation AUC and
// scores the best candidate on the test split.
func trainFamily(ctx context.Context, family string, d *dataset, opts Options, progress io.Writer) (*ModelReport, []float64, error) {
	space := searchSpace(family, opts.Trials, opts.Seed)
	var best *trained
	bestAUC := math.Inf(-1)
	var bestVal evaluate.Metrics
	familyStart, tried := time.Now(), 0
	for i, params := range space {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if opts.Budget > 0 && i > 0 && time.Since(familyStart) > opts.Budget/time.Duration(len(opts.Models)) {
			fmt.Fprintf(progress, "%s: time budget spent after %d trials\n", family, i)
			break
		}
		tried++
		start := time.Now()
		c, err := fit(family, params, d, opts.Seed)
		if err != nil {
			return nil, nil, fmt.Errorf("train %s with %v: %w", family, params, err)
		}
		c.seconds = time.Since(start).Seconds()
		valP := predictAll(c.predict, d.xVal)
		th, err := evaluate.BestF1Threshold(d.yVal, valP)
		if err != nil {
			return nil, nil, fmt.Errorf("evaluate %s: %w", family, err)
		}
		m, err := evaluate.Score(d.yVal, valP, th)
		if err != nil {
			return nil, nil, fmt.Errorf("evaluate %s: %w", family, err)
		}
		if m.ROCAUC > bestAUC {
			best, bestAUC, bestVal = c, m.ROCAUC, m
		}
		of := fmt.Sprintf("of %d", len(space))
		if opts.Budget > 0 {
			of = "within the time budget"
		}
		fmt.Fprintf(progress, "%s trial %d %s: validation AUC %.4f in %.2fs (best %.4f)\n", family, i+1, of, m.ROCAUC, c.seconds, bestAUC)
	}
	testP := predictAll(best.predict, d.xTest)
	test, err := evaluate.Score(d.yTest, testP, bestVal.Threshold)
	if err != nil {
		return nil, nil, fmt.Errorf("evaluate %s on the test split: %w", family, err)
	}
	onnxPath := family + ".onnx"
	data, err := best.export(len(d.names))
	if err != nil {
		return nil, nil, fmt.Errorf("export %s as ONNX: %w", family, err)
	}
	diff, err := parity(data, d.xTest, testP)
	if err != nil {
		return nil, nil, fmt.Errorf("check %s's ONNX file against the runtime: %w", family, err)
	}
	if err := os.WriteFile(filepath.Join(opts.Out, onnxPath), data, 0o644); err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(progress, "%s: test AUC %.4f; ONNX %s, runtime differs by at most %.2g\n", family, test.ROCAUC, onnxPath, diff)
	return &ModelReport{
		Name: family, Family: family, Params: best.params, Seed: opts.Seed, Trials: tried,
		TrainSeconds: round(best.seconds, 3), Validation: bestVal, Test: test, ONNX: onnxPath, ONNXMaxDiff: diff,
	}, testP, nil
}

// parityChunk bounds the rows the runtime evaluates at once: its
// intermediates grow with rows × trees × nodes.
const parityChunk = 256

// parity runs the ONNX file in the Go runtime over the test split and
// returns the largest difference from the trainer's probabilities.
func parity(data []byte, x modelkit.Matrix, want []float64) (float64, error) {
	rt, err := onnxmodel.Load(data)
	if err != nil {
		return 0, err
	}
	worst := 0.0
	for start := 0; start < x.Rows; start += parityChunk {
		end := min(start+parityChunk, x.Rows)
		chunk := modelkit.Matrix{Rows: end - start, Cols: x.Cols, Data: x.Data[start*x.Cols : end*x.Cols]}
		got, err := rt.Predict(chunk)
		if err != nil {
			return 0, err
		}
		for i, g := range got {
			worst = math.Max(worst, math.Abs(g-want[start+i]))
		}
	}
	if worst > 1e-4 {
		return worst, fmt.Errorf("runtime and trainer differ by %.3g (limit 1e-4)", worst)
	}
	return worst, nil
}

func predictAll(predict func([]float64) float64, x modelkit.Matrix) []float64 {
	out := make([]float64, x.Rows)
	for i := range out {
		out[i] = predict(x.Row(i))
	}
	return out
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// writeOutputs writes metrics.json, model_card.md, the feature step and
// the figures.
func writeOutputs(out string, rep *Report, d *dataset, curves []evaluate.Curve) error {
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	fs, err := json.MarshalIndent(d.pipeline, "", "  ")
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"metrics.json":  append(js, '\n'),
		"features.json": append(fs, '\n'),
		"model_card.md": modelCard(rep),
	}
	for _, kind := range []evaluate.Plot{evaluate.PlotROC, evaluate.PlotPR, evaluate.PlotReliability} {
		png, err := evaluate.PlotPNG(kind, curves)
		if err != nil {
			return err
		}
		files[filepath.Join("plots", string(kind)+".png")] = png
	}
	for name, data := range files {
		path := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
