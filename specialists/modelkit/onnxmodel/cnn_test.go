package onnxmodel

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/vision"
	"google.golang.org/protobuf/proto"
)

// randCNN returns a network of 3×3 convs over size×size frames, the first
// of stride 1 and the others of stride 2 (the shape vision.Train builds),
// with weights scaled so that the probabilities spread over (0, 1)
// instead of piling up at 0 or 1.
func randCNN(rng *rand.Rand, size int, channels ...int) *vision.CNN {
	m := &vision.CNN{Size: size, Bias: 0.1 * rng.NormFloat64()}
	in := 1
	for l, out := range channels {
		c := vision.Conv{In: in, Out: out, Kernel: 3, Stride: 2, Pad: 1,
			W: make([]float64, out*in*9), B: make([]float64, out)}
		if l == 0 {
			c.Stride = 1
		}
		for i := range c.W {
			c.W[i] = rng.NormFloat64() * math.Sqrt(2/float64(in*9))
		}
		for i := range c.B {
			c.B[i] = 0.05 * rng.NormFloat64()
		}
		m.Convs = append(m.Convs, c)
		in = out
	}
	ch, side := m.OutSize()
	m.Dense = make([]float64, ch*side*side)
	for i := range m.Dense {
		m.Dense[i] = rng.NormFloat64() * 4 / math.Sqrt(float64(len(m.Dense)))
	}
	return m
}

// frames returns n synthetic frames as images and as the rows of a
// feature matrix, the runtime's input.
func frames(t testing.TB, n, size int, seed uint64) ([]vision.Image, modelkit.Matrix) {
	t.Helper()
	s, err := vision.Synthesize(vision.SynthConfig{N: n, Size: size, DefectRate: 0.5, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	ims := make([]vision.Image, n)
	x := modelkit.NewMatrix(n, size*size)
	for i := range s {
		ims[i] = s[i].Image
		copy(x.Row(i), s[i].Image.Pix)
	}
	return ims, x
}

func TestCNNRuntimeMatchesPredict(t *testing.T) {
	const tol = 1e-5
	fivePx := randCNN(newRand(3), 10, 3, 4)
	fivePx.Convs[1].Kernel, fivePx.Convs[1].Pad = 5, 2 // a 5×5 kernel padded by 2
	fivePx.Convs[1].W = make([]float64, 4*3*25)
	for i := range fivePx.Convs[1].W {
		fivePx.Convs[1].W[i] = 0.2 * math.Sin(float64(i))
	}
	for _, c := range []struct {
		name string
		m    *vision.CNN
	}{
		{"the default network on 24×24 frames", randCNN(newRand(1), 24, 8, 16, 16)},
		{"one conv layer on 8×8 frames", randCNN(newRand(2), 8, 2)},
		{"a 5×5 kernel on 10×10 frames", fivePx},
	} {
		t.Run(c.name, func(t *testing.T) {
			ims, x := frames(t, 4, c.m.Size, 7)
			q := vision.Quantize(c.m)
			for _, v := range []struct {
				family string
				ref    *vision.CNN
				export func() ([]byte, error)
			}{
				{"cnn", c.m, func() ([]byte, error) { return ExportCNN(c.m) }},
				{"cnn-int8", q.Dequantize(), func() ([]byte, error) { return ExportQuantized(q) }},
			} {
				data, err := v.export()
				if err != nil {
					t.Fatalf("%s: export: %v", v.family, err)
				}
				rt, err := Load(data)
				if err != nil {
					t.Fatalf("%s: load: %v", v.family, err)
				}
				if rt.Family() != v.family || rt.Features() != c.m.Size*c.m.Size {
					t.Errorf("%s: family %q, %d features", v.family, rt.Family(), rt.Features())
				}
				want := v.ref.PredictAll(ims)
				spread := 0.0
				// Twice: a graph that let gonnx write an initializer would
				// fail or drift on the second run.
				for run := range 2 {
					got, err := rt.Predict(x)
					if err != nil {
						t.Fatalf("%s run %d: predict: %v", v.family, run, err)
					}
					for i := range want {
						if d := math.Abs(got[i] - want[i]); !(d <= tol) {
							t.Errorf("%s run %d frame %d: runtime %.9f, vision %.9f (|Δ| %.3g)", v.family, run, i, got[i], want[i], d)
						}
						spread = max(spread, math.Abs(want[i]-want[0]))
					}
				}
				if spread < 0.01 {
					t.Errorf("%s: the frames all score about %v, a weak test of parity", v.family, want[0])
				}
			}
		})
	}
}

func TestCNNRuntimeIsSafeForConcurrentUse(t *testing.T) {
	m := randCNN(newRand(9), 12, 3, 4)
	_, x := frames(t, 3, 12, 9)
	for _, export := range []func() ([]byte, error){
		func() ([]byte, error) { return ExportCNN(m) },
		func() ([]byte, error) { return ExportQuantized(vision.Quantize(m)) },
	} {
		data, err := export()
		if err != nil {
			t.Fatal(err)
		}
		rt, err := Load(data)
		if err != nil {
			t.Fatal(err)
		}
		want, err := rt.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 5 {
					got, err := rt.Predict(x)
					if err != nil {
						t.Error(err)
						return
					}
					for i := range want {
						if got[i] != want[i] {
							t.Errorf("%s frame %d: %v, want %v", rt.Family(), i, got[i], want[i])
							return
						}
					}
				}
			})
		}
		wg.Wait()
	}
}

func TestQuantizedFileHoldsInt8Weights(t *testing.T) {
	// Wide enough that the weights outweigh the graph's fixed overhead
	// (node names, doc strings, float biases and scales: about 3 kB); the
	// default 8-16-16 network comes to just under 0.4.
	m := randCNN(newRand(4), 24, 16, 32, 32)
	q := vision.Quantize(m)
	float, err := ExportCNN(m)
	if err != nil {
		t.Fatal(err)
	}
	int8s, err := ExportQuantized(q)
	if err != nil {
		t.Fatal(err)
	}
	if r := float64(len(int8s)) / float64(len(float)); r >= 0.4 {
		t.Errorf("the int8 file has %d bytes, %.2f of the float file's %d; want under 0.4", len(int8s), r, len(float))
	}
	t.Logf("%d parameters: float %d bytes, int8 %d bytes", m.Params(), len(float), len(int8s))

	mp := &onnx.ModelProto{}
	if err := proto.Unmarshal(int8s, mp); err != nil {
		t.Fatal(err)
	}
	int8Weights := 0
	for _, init := range mp.Graph.Initializer {
		if init.DataType == int32(onnx.TensorProto_INT8) {
			int8Weights += len(init.RawData)
		}
	}
	if want := m.Params() - 1 - 16 - 32 - 32; int8Weights != want {
		t.Errorf("%d int8 weights stored, want every conv and dense weight (%d)", int8Weights, want)
	}
	if mp.IrVersion != irVersion || mp.OpsetImport[0].Version != opsetVersion || mp.MetadataProps[0].Value != familyCNNInt8 {
		t.Errorf("ir %d, opset %v, metadata %v", mp.IrVersion, mp.OpsetImport, mp.MetadataProps)
	}
}

func TestExportCNNRejectsInvalidModels(t *testing.T) {
	short := randCNN(newRand(5), 12, 2, 3)
	short.Convs[1].W = short.Convs[1].W[1:]
	noScale := vision.Quantize(randCNN(newRand(6), 12, 2))
	noScale.Convs[0].Scales[1] = 0
	for _, c := range []struct {
		name string
		err  error
	}{
		{"a nil CNN", func() error { _, err := ExportCNN(nil); return err }()},
		{"a conv missing a weight", func() error { _, err := ExportCNN(short); return err }()},
		{"a nil quantized model", func() error { _, err := ExportQuantized(nil); return err }()},
		{"a zero channel scale", func() error { _, err := ExportQuantized(noScale); return err }()},
	} {
		t.Run(c.name+" is rejected", func(t *testing.T) {
			if !errors.Is(c.err, ErrInvalidModel) || !errors.Is(c.err, vision.ErrInvalidInput) {
				t.Errorf("got %v, want ErrInvalidModel wrapping vision's reason", c.err)
			}
		})
	}
}

// TestCNNFilesLoad writes both CNN files and loads them back; with
// ONNXMODEL_DUMP_DIR set they stay there for the reference ONNX checker.
func TestCNNFilesLoad(t *testing.T) {
	dir := os.Getenv("ONNXMODEL_DUMP_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	m := randCNN(newRand(8), 24, 8, 16, 16)
	for _, c := range []struct {
		file   string
		export func() ([]byte, error)
	}{
		{"cnn.onnx", func() ([]byte, error) { return ExportCNN(m) }},
		{"cnn-int8.onnx", func() ([]byte, error) { return ExportQuantized(vision.Quantize(m)) }},
	} {
		data, err := c.export()
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		path := filepath.Join(dir, c.file)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		back, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Load(back); err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
	}
}
