// Package inspection runs the training job of the defect detection model:
// pretrain a small CNN on frames of one surface, fine-tune it on the
// labeled frames of the line with its first layer frozen (transfer
// learning), train the same network from scratch on the same frames for
// comparison, ship the better of the two on the validation frames,
// quantized to int8 for edge devices as well, score everything on
// held-out frames, export the float and int8 models as ONNX (checked
// against the Go runtime), and write metrics.json, history.json and
// model_card.md.
//
// The same Options always write the same bytes.
package inspection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/evaluate"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/onnxmodel"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/vision"
)

// The files Run writes into Options.Out.
const (
	FloatModel    = "defect_cnn.onnx"
	Int8Model     = "defect_cnn_int8.onnx"
	MetricsFile   = "metrics.json"
	HistoryFile   = "history.json"
	ModelCard     = "model_card.md"
	DefaultFrames = 1200
)

// ErrUsage is wrapped by errors in the options.
var ErrUsage = errors.New("bad training options")

// Options of a training run. Zero values mean the documented defaults.
type Options struct {
	Out string
	// Labeled are the line's labeled frames; nil means Frames synthetic
	// frames of the brushed surface.
	Labeled []vision.Sample
	// Frames is the number of synthetic labeled frames; 0 means 1200.
	Frames int
	// Test are held-out frames scored once at the end; nil means
	// synthetic frames of the labeled frames' surface, a third as many
	// (at least 400).
	Test []vision.Sample
	// Pretrain is the number of frames of the other surface (cast) the
	// backbone is pretrained on; 0 means twice the labeled frames, from
	// 1000 to 5000.
	Pretrain int
	// Channels of the convolutions; nil means [8, 16, 16].
	Channels []int
	// Epochs of fine-tuning and of training from scratch; 0 means 8.
	// Pretraining takes 6.
	Epochs int
	// Freeze is the number of pretrained conv layers kept as they are; 0
	// means 1. Use -1 to fine-tune every layer.
	Freeze int
	// Workers shard each minibatch (see vision.Config.Workers); the
	// result is reproducible for a given value. 0 means 1.
	Workers int
	Seed    uint64
	// ParityFrames are scored by the ONNX runtime and compared with the
	// Go model; 0 means 64.
	ParityFrames int
	// Progress receives a line per stage; nil discards them.
	Progress io.Writer
}

// Report is metrics.json.
type Report struct {
	Size     int    `json:"image_size"`
	Channels []int  `json:"channels"`
	Params   int    `json:"params"`
	Seed     uint64 `json:"seed"`
	Frames   Frames `json:"frames"`
	// Threshold is the shipped model's, chosen for the best F1 on the
	// validation frames; every model is scored at it.
	Threshold float64 `json:"threshold"`
	// Shipped names the model exported (transfer or scratch): the one
	// with the better validation ROC AUC.
	Shipped string `json:"shipped"`
	// Models are the shipped model, its int8 form and the other candidate,
	// in this order.
	Models []ModelReport `json:"models"`
	// TransferGain is the fine-tuned model's test ROC AUC minus the
	// scratch model's; QuantizationLoss the shipped float model's minus
	// its int8 form's.
	TransferGain     float64 `json:"transfer_gain"`
	QuantizationLoss float64 `json:"quantization_loss"`
}

// Frames counts the frames of each split.
type Frames struct {
	Pretrain   int `json:"pretrain"`
	Train      int `json:"train"`
	Validation int `json:"validation"`
	Test       int `json:"test"`
}

// ModelReport is one model's scores on the test frames.
type ModelReport struct {
	Name string           `json:"name"`
	Test evaluate.Metrics `json:"test"`
	// ONNX is the model's file, for the shipped ones.
	ONNX      string `json:"onnx,omitempty"`
	ONNXBytes int    `json:"onnx_bytes,omitempty"`
	// ONNXMaxDiff is the largest difference between the ONNX runtime's
	// probabilities and the Go model's on the parity frames.
	ONNXMaxDiff float64 `json:"onnx_max_abs_diff,omitempty"`
}

// maxParityDiff is the largest difference between the runtimes accepted:
// the graph computes in float32.
const maxParityDiff = 1e-4

// Run trains, evaluates and writes everything into opts.Out.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Out == "" {
		return nil, fmt.Errorf("%w: out is required", ErrUsage)
	}
	o, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	d, err := frames(o)
	if err != nil {
		return nil, err
	}
	cfg := vision.Config{Channels: o.Channels, Epochs: o.Epochs, Augment: jobAugment(), Workers: o.Workers, Seed: o.Seed}
	pre := cfg
	pre.Epochs, pre.Seed = 6, o.Seed+10
	fmt.Fprintf(progress, "pretrain on %d cast frames\n", len(d.source))
	cut := len(d.source) * 4 / 5
	pretrained, preHist, err := vision.Train(ctx, d.source[:cut], d.source[cut:], pre, nil)
	if err != nil {
		return nil, fmt.Errorf("pretrain: %w", err)
	}
	fine := cfg
	fine.Freeze = max(o.Freeze, 0)
	fmt.Fprintf(progress, "fine-tune on %d labeled frames, %d layers frozen\n", len(d.train), fine.Freeze)
	tuned, fineHist, err := vision.Train(ctx, d.train, d.valid, fine, pretrained)
	if err != nil {
		return nil, fmt.Errorf("fine-tune: %w", err)
	}
	fmt.Fprintf(progress, "train from scratch on %d labeled frames\n", len(d.train))
	scratch, scratchHist, err := vision.Train(ctx, d.train, d.valid, cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("train from scratch: %w", err)
	}
	// The champion is the candidate better on the validation frames; the
	// test frames only report. Fine-tuning wins with few labeled frames,
	// training from scratch may win with many.
	validY, validX := labels(d.valid), images(d.valid)
	champ, challenger := candidate{"transfer", tuned, tuned.PredictAll(validX)}, candidate{"scratch", scratch, scratch.PredictAll(validX)}
	ta, err := evaluate.Score(validY, champ.valid, 0.5)
	if err != nil {
		return nil, fmt.Errorf("score on validation: %w", err)
	}
	sa, err := evaluate.Score(validY, challenger.valid, 0.5)
	if err != nil {
		return nil, fmt.Errorf("score on validation: %w", err)
	}
	if sa.ROCAUC > ta.ROCAUC {
		champ, challenger = challenger, champ
	}
	q := vision.Quantize(champ.model)
	if q == nil {
		return nil, errors.New("quantize: the model is invalid")
	}
	threshold, err := evaluate.BestF1Threshold(validY, champ.valid)
	if err != nil {
		return nil, fmt.Errorf("choose the threshold: %w", err)
	}
	threshold = round(threshold, 6)
	rep := &Report{Size: champ.model.Size, Channels: o.Channels, Params: champ.model.Params(), Seed: o.Seed, Threshold: threshold,
		Shipped: champ.name, Frames: Frames{Pretrain: len(d.source), Train: len(d.train), Validation: len(d.valid), Test: len(d.test)}}
	testY, testX := labels(d.test), images(d.test)
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	auc := map[string]float64{}
	for _, m := range []struct {
		name, file string
		model      *vision.CNN
		export     func() ([]byte, error)
	}{
		{champ.name, FloatModel, champ.model, func() ([]byte, error) { return onnxmodel.ExportCNN(champ.model) }},
		{champ.name + "-int8", Int8Model, q.Dequantize(), func() ([]byte, error) { return onnxmodel.ExportQuantized(q) }},
		{challenger.name, "", challenger.model, nil},
	} {
		mr, err := score(m.name, m.model.PredictAll(testX), testY, threshold)
		if err != nil {
			return nil, err
		}
		auc[m.name] = mr.Test.ROCAUC
		if m.export != nil {
			fmt.Fprintf(progress, "export %s\n", m.file)
			data, err := m.export()
			if err == nil {
				// Devices receive the model file alone; it carries the
				// threshold to decide at.
				data, err = onnxmodel.SetMetadata(data, onnxmodel.ThresholdKey, strconv.FormatFloat(threshold, 'g', -1, 64))
			}
			if err != nil {
				return nil, fmt.Errorf("export %s: %w", m.name, err)
			}
			if mr.ONNXMaxDiff, err = parity(data, m.model, testX[:min(o.ParityFrames, len(testX))]); err != nil {
				return nil, fmt.Errorf("check %s: %w", m.file, err)
			}
			if err := os.WriteFile(filepath.Join(o.Out, m.file), data, 0o644); err != nil {
				return nil, err
			}
			mr.ONNX, mr.ONNXBytes = m.file, len(data)
		}
		rep.Models = append(rep.Models, mr)
	}
	rep.TransferGain = round(auc["transfer"]-auc["scratch"], 6)
	rep.QuantizationLoss = round(rep.Models[0].Test.ROCAUC-rep.Models[1].Test.ROCAUC, 6)
	history := map[string][]vision.Epoch{"pretrain": preHist, "transfer": fineHist, "scratch": scratchHist}
	if err := writeJSON(filepath.Join(o.Out, MetricsFile), rep); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(o.Out, HistoryFile), roundHistory(history)); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.Out, ModelCard), modelCard(rep), 0o644); err != nil {
		return nil, err
	}
	return rep, nil
}

// candidate is a model that may be shipped.
type candidate struct {
	name  string
	model *vision.CNN
	valid []float64 // its probabilities on the validation frames
}

func withDefaults(o Options) (Options, error) {
	if o.Frames == 0 {
		o.Frames = DefaultFrames
	}
	if o.Labeled != nil {
		o.Frames = len(o.Labeled)
	}
	if o.Pretrain == 0 {
		o.Pretrain = min(max(2*o.Frames, 1000), 5000)
	}
	if o.Channels == nil {
		o.Channels = []int{8, 16, 16}
	}
	if o.Epochs == 0 {
		o.Epochs = 8
	}
	if o.Freeze == 0 {
		o.Freeze = 1
	}
	if o.Workers == 0 {
		o.Workers = 1
	}
	if o.ParityFrames == 0 {
		o.ParityFrames = 64
	}
	switch {
	case o.Frames < 50:
		return o, fmt.Errorf("%w: %d labeled frames; want at least 50", ErrUsage, o.Frames)
	case o.Pretrain < 50:
		return o, fmt.Errorf("%w: %d pretraining frames; want at least 50", ErrUsage, o.Pretrain)
	case o.Freeze > len(o.Channels):
		return o, fmt.Errorf("%w: freeze %d of %d conv layers", ErrUsage, o.Freeze, len(o.Channels))
	case o.Epochs < 1 || o.Workers < 1:
		return o, fmt.Errorf("%w: epochs %d and workers %d; want at least 1", ErrUsage, o.Epochs, o.Workers)
	}
	return o, nil
}

// split holds the frames of a run.
type split struct {
	source, train, valid, test []vision.Sample
}

// frames synthesizes what the options do not give: the source surface for
// pretraining, the labeled frames and the test frames, each from its own
// seed so that none shares a frame with another.
func frames(o Options) (*split, error) {
	labeled := o.Labeled
	var err error
	if labeled == nil {
		if labeled, err = vision.Synthesize(vision.SynthConfig{N: o.Frames, Surface: vision.Brushed, Seed: o.Seed}); err != nil {
			return nil, err
		}
	}
	test := o.Test
	if test == nil {
		n := max(o.Frames/3, 400)
		if test, err = vision.Synthesize(vision.SynthConfig{N: n, Size: labeled[0].Image.Size, Surface: vision.Brushed, Seed: o.Seed + 1}); err != nil {
			return nil, err
		}
	}
	source, err := vision.Synthesize(vision.SynthConfig{N: o.Pretrain, Size: labeled[0].Image.Size, Surface: vision.Cast, Seed: o.Seed + 2})
	if err != nil {
		return nil, err
	}
	cut := len(labeled) * 4 / 5
	return &split{source: source, train: labeled[:cut], valid: labeled[cut:], test: test}, nil
}

func score(name string, p, y []float64, threshold float64) (ModelReport, error) {
	m, err := evaluate.Score(y, p, threshold)
	if err != nil {
		return ModelReport{}, fmt.Errorf("score %s: %w", name, err)
	}
	for _, v := range []*float64{&m.ROCAUC, &m.PRAUC, &m.LogLoss, &m.Brier, &m.F1, &m.Precision, &m.Recall} {
		*v = round(*v, 6)
	}
	return ModelReport{Name: name, Test: m}, nil
}

// parity scores frames with the ONNX model and returns the largest
// difference from the Go model's probabilities.
func parity(data []byte, m *vision.CNN, frames []vision.Image) (float64, error) {
	rt, err := onnxmodel.Load(data)
	if err != nil {
		return 0, err
	}
	x := modelkit.NewMatrix(len(frames), m.Size*m.Size)
	for i, im := range frames {
		copy(x.Row(i), im.Pix)
	}
	got, err := rt.Predict(x)
	if err != nil {
		return 0, err
	}
	worst := 0.0
	for i, im := range frames {
		worst = math.Max(worst, math.Abs(got[i]-m.Predict(im)))
	}
	if worst > maxParityDiff {
		return worst, fmt.Errorf("the ONNX runtime differs from the model by %g", worst)
	}
	// Rounded up to a power of ten: the exact value depends on the
	// machine's float32 rounding and must not make metrics.json differ.
	return math.Pow(10, math.Ceil(math.Log10(math.Max(worst, 1e-12)))), nil
}

func labels(s []vision.Sample) []float64 {
	y := make([]float64, len(s))
	for i, x := range s {
		if x.Defect() {
			y[i] = 1
		}
	}
	return y
}

func images(s []vision.Sample) []vision.Image {
	out := make([]vision.Image, len(s))
	for i, x := range s {
		out[i] = x.Image
	}
	return out
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func roundHistory(h map[string][]vision.Epoch) map[string][]vision.Epoch {
	for _, epochs := range h {
		for i := range epochs {
			e := &epochs[i]
			e.TrainLoss, e.ValidLoss, e.ValidAUC = round(e.TrainLoss, 6), round(e.ValidLoss, 6), round(e.ValidAUC, 6)
		}
	}
	return h
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
