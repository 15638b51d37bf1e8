package vision

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
)

func contains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }

// The shared training run: the default network on 1200 brushed frames,
// validated on 300, scored on 600 more.
var (
	trainSet = sync.OnceValue(func() []Sample { s, _ := Synthesize(SynthConfig{N: 1200, Seed: 1}); return s })
	validSet = sync.OnceValue(func() []Sample { s, _ := Synthesize(SynthConfig{N: 300, Seed: 2}); return s })
	testSet  = sync.OnceValue(func() []Sample { s, _ := Synthesize(SynthConfig{N: 600, Seed: 3}); return s })

	learnedConfig = Config{Epochs: 6, Seed: 1}
	learned       = sync.OnceValue(func() trainResult {
		m, hist, err := Train(context.Background(), trainSet(), validSet(), learnedConfig, nil)
		return trainResult{m, hist, err}
	})
)

type trainResult struct {
	model *CNN
	hist  []Epoch
	err   error
}

func learnedModel(t *testing.T) (*CNN, []Epoch) {
	t.Helper()
	r := learned()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.model, r.hist
}

// sameWeights reports whether a and b hold bit-identical parameters.
func sameWeights(a, b *CNN) bool {
	if len(a.Convs) != len(b.Convs) || math.Float64bits(a.Bias) != math.Float64bits(b.Bias) || !sameBits(a.Dense, b.Dense) {
		return false
	}
	for l := range a.Convs {
		if !sameConv(a.Convs[l], b.Convs[l]) {
			return false
		}
	}
	return true
}

func sameConv(a, b Conv) bool { return sameBits(a.W, b.W) && sameBits(a.B, b.B) }

func sameBits(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}

func TestTrainLearnsToFindDefects(t *testing.T) {
	m, hist := learnedModel(t)
	test := testSet()
	cnn := auc(t, test, m.PredictAll(images(test)))
	baseline := auc(t, test, darkness(test))
	t.Logf("test ROC AUC: CNN %.3f, mean darkness %.3f; %d parameters", cnn, baseline, m.Params())
	if cnn < 0.9 {
		t.Errorf("test ROC AUC %.3f, want at least 0.9", cnn)
	}
	if cnn < baseline+0.3 {
		t.Errorf("test ROC AUC %.3f does not beat the mean-darkness baseline %.3f by 0.3", cnn, baseline)
	}

	if len(hist) != learnedConfig.Epochs {
		t.Fatalf("%d epochs of history, want %d", len(hist), learnedConfig.Epochs)
	}
	best := hist[0]
	for i, e := range hist {
		if e.Epoch != i+1 || !(e.TrainLoss > 0) || !(e.ValidLoss > 0) || !(e.ValidAUC > 0.5) {
			t.Errorf("epoch %d: %+v", i+1, e)
		}
		if e.ValidLoss < best.ValidLoss {
			best = e
		}
	}
	if last := hist[len(hist)-1]; !(last.TrainLoss < hist[0].TrainLoss) {
		t.Errorf("training loss went from %v to %v", hist[0].TrainLoss, last.TrainLoss)
	}
	// The model returned is the one of the epoch with the lowest
	// validation loss: its validation scores are that epoch's.
	valid := validSet()
	p := m.PredictAll(images(valid))
	loss := 0.0
	for i, s := range valid {
		if s.Defect() {
			loss -= math.Log(p[i])
		} else {
			loss -= math.Log(1 - p[i])
		}
	}
	loss /= float64(len(valid))
	if math.Abs(loss-best.ValidLoss) > 1e-9 || math.Abs(auc(t, valid, p)-best.ValidAUC) > 1e-12 {
		t.Errorf("the model scores loss %.6f, AUC %.4f on validation; the best epoch %d had %.6f, %.4f",
			loss, auc(t, valid, p), best.Epoch, best.ValidLoss, best.ValidAUC)
	}
}

func TestTrainIsDeterministicForEachWorkers(t *testing.T) {
	first, _ := learnedModel(t)
	again, _, err := Train(context.Background(), trainSet(), validSet(), learnedConfig, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sameWeights(first, again) {
		t.Error("two runs with Workers 1 gave different models")
	}

	cfg := learnedConfig
	cfg.Workers = 2
	var models [2]*CNN
	for i := range models {
		if models[i], _, err = Train(context.Background(), trainSet(), validSet(), cfg, nil); err != nil {
			t.Fatal(err)
		}
	}
	if !sameWeights(models[0], models[1]) {
		t.Error("two runs with Workers 2 gave different models")
	}
	test := testSet()
	if a := auc(t, test, models[0].PredictAll(images(test))); a < 0.9 {
		t.Errorf("Workers 2: test ROC AUC %.3f, want at least 0.9", a)
	}
}

func TestFreezeKeepsPretrainedLayers(t *testing.T) {
	pre, _ := learnedModel(t)
	kept := pre.clone()
	cast := synth(t, SynthConfig{N: 200, Surface: Cast, Seed: 8})
	for _, freeze := range []int{1, 3} {
		cfg := Config{Epochs: 2, Freeze: freeze, Seed: 2}
		m, _, err := Train(context.Background(), cast, nil, cfg, pre)
		if err != nil {
			t.Fatal(err)
		}
		for l := range m.Convs {
			same := sameConv(m.Convs[l], pre.Convs[l])
			if l < freeze && !same {
				t.Errorf("Freeze %d: conv %d changed", freeze, l)
			}
			if l >= freeze && same {
				t.Errorf("Freeze %d: conv %d was not trained", freeze, l)
			}
		}
		if sameBits(m.Dense, pre.Dense) {
			t.Errorf("Freeze %d: the dense layer was not trained", freeze)
		}
	}
	if !sameWeights(pre, kept) {
		t.Error("Train changed the pretrained model it started from")
	}
}

func TestQuantizedModelKeepsItsAccuracy(t *testing.T) {
	m, _ := learnedModel(t)
	test := testSet()
	q := Quantize(m)
	float, int8s := auc(t, test, m.PredictAll(images(test))), auc(t, test, q.Dequantize().PredictAll(images(test)))
	t.Logf("test ROC AUC: float %.4f, int8 %.4f", float, int8s)
	if math.Abs(float-int8s) > 0.02 {
		t.Errorf("quantization moved the test ROC AUC from %.4f to %.4f", float, int8s)
	}
}

func TestTrainWithoutValidationAugmentsReproducibly(t *testing.T) {
	train := synth(t, SynthConfig{N: 150, Size: 16, Seed: 4})
	cfg := Config{Size: 16, Channels: []int{4, 8}, Epochs: 2, Augment: &Augment{FlipH: true, Rotate90: true, Noise: 0.02}, Seed: 3}
	a, hist, err := Train(context.Background(), train, nil, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Train(context.Background(), train, nil, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sameWeights(a, b) {
		t.Error("two augmented runs gave different models")
	}
	if len(hist) != 2 || hist[1].ValidLoss != 0 || hist[1].ValidAUC != 0 {
		t.Errorf("history without validation: %+v", hist)
	}
	cfg.Augment = nil
	c, _, err := Train(context.Background(), train, nil, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sameWeights(a, c) {
		t.Error("augmentation made no difference")
	}
}

// countdown is a context that reports itself cancelled from its n-th call
// to Err on, so a test can stop Train after a known number of batches.
type countdown struct {
	context.Context
	n, calls int
}

func (c *countdown) Err() error {
	c.calls++
	if c.calls >= c.n {
		return context.Canceled
	}
	return nil
}

func TestTrainStopsBetweenBatchesWhenCancelled(t *testing.T) {
	train := synth(t, SynthConfig{N: 200, Seed: 5})
	ctx := &countdown{Context: context.Background(), n: 4}
	m, hist, err := Train(ctx, train, nil, Config{Epochs: 3, BatchSize: 20}, nil)
	if !errors.Is(err, context.Canceled) || m != nil {
		t.Fatalf("got %v, %v; want no model and context.Canceled", m, err)
	}
	if ctx.calls != 4 || len(hist) != 0 {
		t.Errorf("Train asked ctx %d times and finished %d epochs; want it to stop at the 4th batch of the first", ctx.calls, len(hist))
	}

	ctx = &countdown{Context: context.Background(), n: 15} // in the second epoch of 10 batches
	_, hist, err = Train(ctx, train, nil, Config{Epochs: 3, BatchSize: 20}, nil)
	if !errors.Is(err, context.Canceled) || len(hist) != 1 {
		t.Errorf("got %v after %d epochs, want context.Canceled after 1", err, len(hist))
	}
}

func TestTrainRejectsWhatItCannotTrainOn(t *testing.T) {
	good := synth(t, SynthConfig{N: 20, Size: 12, DefectRate: 0.5, Seed: 6})
	with := func(edit func(s []Sample)) []Sample {
		s := slices.Clone(good)
		edit(s)
		return s
	}
	small := Config{Size: 12, Channels: []int{2, 3}, Epochs: 1}
	pre, _, err := Train(context.Background(), good, nil, small, nil)
	if err != nil {
		t.Fatal(err)
	}
	broken := pre.clone()
	broken.Dense = broken.Dense[1:]
	nanWeight := pre.clone()
	nanWeight.Convs[1].W[4] = math.NaN()
	strided := pre.clone()
	strided.Convs[1].Stride = 1
	strided.Dense = make([]float64, 3*12*12)

	for _, c := range []struct {
		name         string
		train, valid []Sample
		cfg          Config
		init         *CNN
		want         string
	}{
		{"no training samples", nil, nil, small, nil, "empty training set"},
		{"an image of the wrong size", with(func(s []Sample) { s[3].Image = Image{Size: 10, Pix: make([]float64, 100)} }), nil, small, nil,
			"training sample 3: vision: invalid input: image is 10×10, want 12×12"},
		{"a NaN pixel in validation", good, with(func(s []Sample) { s[0].Image = s[0].Image.clone(); s[0].Image.Pix[5] = math.NaN() }), small, nil,
			"validation sample 0: vision: invalid input: pixel (5,0) is NaN"},
		{"a short image", with(func(s []Sample) { s[1].Image.Pix = s[1].Image.Pix[:100] }), nil, small, nil, "12×12 image has 100 pixels, want 144"},
		{"an unknown kind", with(func(s []Sample) { s[2].Kind = 7 }), nil, small, nil, "training sample 2 has kind 7"},
		{"no defects", with(func(s []Sample) {
			for i := range s {
				s[i].Kind = OK
			}
		}), nil, small, nil, "show no defect"},
		{"only defects", with(func(s []Sample) {
			for i := range s {
				s[i].Kind = Spot
			}
		}), nil, small, nil, "all show a defect"},
		{"a tiny Size", good, nil, Config{Size: 2}, nil, "Config.Size is 2"},
		{"negative epochs", good, nil, Config{Size: 12, Epochs: -1}, nil, "Config.Epochs is -1"},
		{"a negative batch size", good, nil, Config{Size: 12, BatchSize: -2}, nil, "Config.BatchSize is -2"},
		{"a negative learning rate", good, nil, Config{Size: 12, LearningRate: -1}, nil, "Config.LearningRate is -1"},
		{"a NaN L2", good, nil, Config{Size: 12, L2: math.NaN()}, nil, "Config.L2 is NaN"},
		{"a layer without channels", good, nil, Config{Size: 12, Channels: []int{8, 0}}, nil, "Config.Channels[1] is 0"},
		{"no layers", good, nil, Config{Size: 12, Channels: []int{}}, nil, "Config.Channels has 0 layers"},
		{"too many workers", good, nil, Config{Size: 12, Workers: 1000}, nil, "Config.Workers is 1000"},
		{"freezing more layers than there are", good, nil, Config{Size: 12, Freeze: 4}, nil, "Config.Freeze is 4"},
		{"freezing without a pretrained model", good, nil, Config{Size: 12, Freeze: 1}, nil, "no pretrained model to freeze"},
		{"negative noise", good, nil, Config{Size: 12, Augment: &Augment{Noise: -1}}, nil, "Noise -1"},
		{"pretrained channels that differ", good, nil, Config{Size: 12, Channels: []int{2, 4}}, pre,
			"pretrained model has channels [2 3], Config.Channels is [2 4]"},
		{"a pretrained size that differs", good, nil, Config{Size: 16, Channels: []int{2, 3}}, pre,
			"pretrained model takes 12×12 images, Config.Size is 16"},
		{"a network too large to train", good, nil, Config{Size: 1024, Channels: []int{64, 64}}, nil, "conv 1 would hold 150994944 values per image"},
		{"a broken pretrained model", good, nil, small, broken, "pretrained model: vision: invalid input: dense layer has 107 weights, want 108"},
		{"a pretrained model with a NaN weight", good, nil, small, nanWeight, "pretrained model has weights that are not finite"},
		{"a pretrained model of another shape", good, nil, small, strided, "pretrained conv 1 has kernel 3, stride 1, pad 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, _, err := Train(context.Background(), c.train, c.valid, c.cfg, c.init)
			if m != nil || !errors.Is(err, ErrInvalidInput) || !contains(err, c.want) {
				t.Errorf("got %v, want an ErrInvalidInput naming %q", err, c.want)
			}
		})
	}
}

func TestTooLargeALearningRateReportsDivergence(t *testing.T) {
	train := synth(t, SynthConfig{N: 60, Size: 12, Seed: 7})
	_, hist, err := Train(context.Background(), train, nil, Config{Size: 12, Channels: []int{4}, Epochs: 20, LearningRate: 1e300}, nil)
	if !errors.Is(err, ErrDiverged) || len(hist) == 0 {
		t.Errorf("got %v after %d epochs, want ErrDiverged", err, len(hist))
	}
}

// BenchmarkTrain trains the default network on 2000 frames for 8 epochs
// on one core, the figure the package promises to keep under about 10 s.
func BenchmarkTrain(b *testing.B) {
	train, err := Synthesize(SynthConfig{N: 2000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := Train(context.Background(), train, nil, Config{Epochs: 8, BatchSize: 32}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
