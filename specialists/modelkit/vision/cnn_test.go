package vision

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
)

// randCNN returns a network with the given conv shapes (out, kernel,
// stride, pad for each layer) and random weights.
func randCNN(seed uint64, size int, shapes ...[4]int) *CNN {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := &CNN{Size: size, Bias: 0.1}
	in := 1
	for _, s := range shapes {
		c := Conv{In: in, Out: s[0], Kernel: s[1], Stride: s[2], Pad: s[3]}
		c.W = make([]float64, c.Out*c.In*c.Kernel*c.Kernel)
		c.B = make([]float64, c.Out)
		for i := range c.W {
			c.W[i] = rng.NormFloat64() / float64(c.Kernel)
		}
		for i := range c.B {
			c.B[i] = 0.1 * rng.NormFloat64()
		}
		m.Convs = append(m.Convs, c)
		in = c.Out
	}
	ch, side := m.OutSize()
	m.Dense = make([]float64, ch*side*side)
	for i := range m.Dense {
		m.Dense[i] = rng.NormFloat64()
	}
	return m
}

// naivePredict computes the network straight from its definition, one
// output pixel at a time, as a reference for the im2col passes.
func naivePredict(m *CNN, im Image) float64 {
	n := im.Size
	mean := sum(im.Pix) / float64(n*n)
	maps := [][]float64{make([]float64, n*n)}
	for i, v := range im.Pix {
		maps[0][i] = v - mean
	}
	side := n
	for _, c := range m.Convs {
		os := (side+2*c.Pad-c.Kernel)/c.Stride + 1
		next := make([][]float64, c.Out)
		for o := range c.Out {
			next[o] = make([]float64, os*os)
			for oy := range os {
				for ox := range os {
					z := c.B[o]
					for i := range c.In {
						for ky := range c.Kernel {
							for kx := range c.Kernel {
								y, x := oy*c.Stride+ky-c.Pad, ox*c.Stride+kx-c.Pad
								if y >= 0 && y < side && x >= 0 && x < side {
									z += c.W[((o*c.In+i)*c.Kernel+ky)*c.Kernel+kx] * maps[i][y*side+x]
								}
							}
						}
					}
					next[o][oy*os+ox] = math.Max(z, 0)
				}
			}
		}
		maps, side = next, os
	}
	z, k := m.Bias, 0
	for _, mp := range maps {
		for _, v := range mp {
			z += m.Dense[k] * v
			k++
		}
	}
	return modelkit.Sigmoid(z)
}

func TestPredictFollowsTheDefinition(t *testing.T) {
	frames := images(synth(t, SynthConfig{N: 6, Size: 13, DefectRate: 0.5, Seed: 3}))
	for _, c := range []struct {
		name string
		m    *CNN
	}{
		{"the default shape", randCNN(1, 13, [4]int{4, 3, 1, 1}, [4]int{5, 3, 2, 1}, [4]int{3, 3, 2, 1})},
		{"5×5 kernels, no padding", randCNN(2, 13, [4]int{3, 5, 1, 0}, [4]int{2, 5, 2, 2})},
		{"stride 3 and a 1×1 kernel", randCNN(3, 13, [4]int{2, 3, 3, 1}, [4]int{4, 1, 1, 0})},
		{"a 1×1 map padded to 3×3", randCNN(4, 13, [4]int{2, 3, 2, 1}, [4]int{2, 3, 2, 1}, [4]int{2, 3, 2, 1}, [4]int{2, 3, 2, 1}, [4]int{3, 3, 1, 1})},
	} {
		got := c.m.PredictAll(frames)
		for i, im := range frames {
			want := naivePredict(c.m, im)
			if math.Abs(got[i]-want) > 1e-12 {
				t.Errorf("%s, frame %d: Predict %.15f, definition %.15f", c.name, i, got[i], want)
			}
			if p := c.m.Predict(im); p != got[i] {
				t.Errorf("%s, frame %d: Predict %v, PredictAll %v", c.name, i, p, got[i])
			}
		}
	}
}

func TestPredictIsBlindToExposure(t *testing.T) {
	m := randCNN(5, 16, [4]int{4, 3, 1, 1}, [4]int{4, 3, 2, 1})
	im := synth(t, SynthConfig{N: 1, Size: 16, DefectRate: 1, Seed: 5})[0].Image
	lighter := im.clone()
	for i := range lighter.Pix {
		lighter.Pix[i] = math.Min(lighter.Pix[i]+0.1, 1)
	}
	if a, b := m.Predict(im), m.Predict(lighter); math.Abs(a-b) > 1e-9 {
		t.Errorf("brightening the frame by 0.1 moved P(defect) from %v to %v", a, b)
	}
}

func TestPredictReturnsNaNForWhatItCannotRead(t *testing.T) {
	m := randCNN(6, 8, [4]int{2, 3, 1, 1})
	good := Image{Size: 8, Pix: make([]float64, 64)}
	for _, c := range []struct {
		name string
		m    *CNN
		im   Image
	}{
		{"an image of another size", m, Image{Size: 9, Pix: make([]float64, 81)}},
		{"an image missing pixels", m, Image{Size: 8, Pix: make([]float64, 60)}},
		{"a pixel above 1", m, Image{Size: 8, Pix: append(make([]float64, 63), 1.5)}},
		{"a nil model", nil, good},
		{"a model without layers", &CNN{Size: 8}, good},
	} {
		if p := c.m.Predict(c.im); !math.IsNaN(p) {
			t.Errorf("%s: Predict %v, want NaN", c.name, p)
		}
	}
	if p := m.PredictAll([]Image{good, {Size: 3}, good}); math.IsNaN(p[0]) || !math.IsNaN(p[1]) || p[0] != p[2] {
		t.Errorf("PredictAll must mark only the bad image NaN: %v", p)
	}
}

func TestValidateNamesTheProblem(t *testing.T) {
	bad := func(edit func(m *CNN)) *CNN {
		m := randCNN(7, 12, [4]int{3, 3, 1, 1}, [4]int{4, 3, 2, 1})
		edit(m)
		return m
	}
	for _, c := range []struct {
		m    *CNN
		want string
	}{
		{bad(func(m *CNN) { m.Size = 0 }), "size is 0"},
		{bad(func(m *CNN) { m.Convs = nil }), "0 conv layers"},
		{bad(func(m *CNN) { m.Convs[0].In = 2 }), "conv 0 reads 2 channels"},
		{bad(func(m *CNN) { m.Convs[1].In = 5 }), "conv 1 reads 5 channels"},
		{bad(func(m *CNN) { m.Convs[1].Stride = 0 }), "stride 0"},
		{bad(func(m *CNN) { m.Convs[1].Pad = 3 }), "pad 3"},
		{bad(func(m *CNN) { m.Convs[0].B = nil }), "conv 0 has 27 weights and 0 biases"},
		{bad(func(m *CNN) { m.Dense = m.Dense[1:] }), "dense layer has 143 weights, want 144"},
		{bad(func(m *CNN) { m.Size = 1; m.Convs[0].Pad = 0 }), "3×3 kernel for a 1×1 input"},
		{bad(func(m *CNN) { m.Size = 1024; m.Convs[0].Out = 1024; m.Convs[1].In = 1024 }), "conv 0 would hold 1073741824 values"},
	} {
		err := c.m.Validate()
		if !errors.Is(err, ErrInvalidInput) || !contains(err, c.want) {
			t.Errorf("got %v, want an error naming %q", err, c.want)
		}
	}
	if err := randCNN(8, 24, [4]int{8, 3, 1, 1}).Validate(); err != nil {
		t.Errorf("a valid network: %v", err)
	}
	if ch, side := bad(func(m *CNN) { m.Dense = nil }).OutSize(); ch != 4 || side != 6 {
		t.Errorf("OutSize without dense weights: %d channels of %d, want 4 of 6", ch, side)
	}
}

// TestBackpropagationMatchesFiniteDifferences checks the gradient of the
// summed loss by every parameter against central differences.
func TestBackpropagationMatchesFiniteDifferences(t *testing.T) {
	s := synth(t, SynthConfig{N: 4, Size: 10, DefectRate: 0.5, Seed: 3})
	for _, freeze := range []int{0, 1} {
		cfg, err := Config{Size: 10, Channels: []int{3, 4, 2}, Freeze: freeze}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		tr := newTrainer(s, cfg, nil)
		for i := range tr.params { // biases start at 0; make every ReLU's state non-trivial
			tr.params[i] += 0.05 * math.Sin(float64(i))
		}
		tr.syncBias()
		tr.transpose()
		w := tr.workers[0]
		w.reset()
		for _, x := range s {
			w.sample(tr, x.Image, label(x))
		}
		loss := func() float64 {
			tr.syncBias()
			l := 0.0
			for _, x := range s {
				l += logLoss(tr.net.forward(x.Image.Pix, w.ws), label(x))
			}
			return l
		}
		frozen := tr.lay.w[freeze]
		for i := range tr.params {
			old := tr.params[i]
			const h = 1e-6
			tr.params[i] = old + h
			up := loss()
			tr.params[i] = old - h
			down := loss()
			tr.params[i] = old
			want := (up - down) / (2 * h)
			if i < frozen {
				want = 0 // a frozen layer gets no gradient
			}
			if d := math.Abs(w.grad[i] - want); d > 1e-6*(1+math.Abs(want)) {
				t.Errorf("freeze %d, parameter %d: backprop %.9g, finite difference %.9g", freeze, i, w.grad[i], want)
			}
		}
	}
}

func TestQuantizeRoundsEachChannel(t *testing.T) {
	m := randCNN(9, 12, [4]int{3, 3, 1, 1}, [4]int{4, 3, 2, 1})
	m.Convs[1].W[5] = 3 // one large weight sets its channel's scale alone
	for i := 2 * 27; i < 3*27; i++ {
		m.Convs[1].W[i] = 0 // an all-zero channel
	}
	q := Quantize(m)
	d := q.Dequantize()
	for l, c := range q.Convs {
		k := len(c.W) / c.Out
		for o := range c.Out {
			top := 0.0
			for _, w := range m.Convs[l].W[o*k : (o+1)*k] {
				top = math.Max(top, math.Abs(w))
			}
			if top > 0 && math.Abs(c.Scales[o]-top/127) > 1e-15 {
				t.Errorf("conv %d channel %d: scale %v, want max|w|/127 = %v", l, o, c.Scales[o], top/127)
			}
			for i := o * k; i < (o+1)*k; i++ {
				if c.W[i] == -128 {
					t.Errorf("conv %d weight %d is -128; the range must stay symmetric", l, i)
				}
				if e := math.Abs(d.Convs[l].W[i] - m.Convs[l].W[i]); e > c.Scales[o]/2+1e-15 {
					t.Errorf("conv %d weight %d: %v came back as %v, off by more than half a step", l, i, m.Convs[l].W[i], d.Convs[l].W[i])
				}
			}
		}
	}
	if q.Convs[1].W[5] != 127 || d.Convs[1].W[5] != 3 {
		t.Errorf("the largest weight quantized to %d and came back as %v, want 127 and 3", q.Convs[1].W[5], d.Convs[1].W[5])
	}
	if q.Convs[1].Scales[2] != 1 || d.Convs[1].W[60] != 0 {
		t.Errorf("an all-zero channel got scale %v and weight %v", q.Convs[1].Scales[2], d.Convs[1].W[60])
	}
	for i, w := range m.Dense {
		if e := math.Abs(d.Dense[i] - w); e > q.DenseScale/2+1e-15 {
			t.Errorf("dense weight %d: %v came back as %v", i, w, d.Dense[i])
		}
	}
	if d.Bias != m.Bias || d.Convs[0].B[1] != m.Convs[0].B[1] {
		t.Error("biases must stay as they are")
	}
	if Quantize(&CNN{}) != nil || (&Quantized{}).Dequantize() != nil {
		t.Error("invalid models must quantize and dequantize to nil")
	}
}
