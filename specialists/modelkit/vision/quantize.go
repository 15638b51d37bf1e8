package vision

import (
	"fmt"
	"math"
)

// Quantized holds int8 weights for edge deployment: symmetric, one scale
// per output channel for each conv, one scale for the dense weights;
// biases stay float. A weight w is stored as round(w/scale), with scale
// the channel's largest |w| over 127, so it comes back as q·scale, off by
// at most scale/2.
type Quantized struct {
	Convs      []QConv `json:"convs"`
	Dense      []int8  `json:"dense"`
	DenseScale float64 `json:"dense_scale"`
	Bias       float64 `json:"bias"`
	Size       int     `json:"size"`
}

// QConv is a Conv with int8 weights: W[o,...]·Scales[o] are the weights
// of output channel o.
type QConv struct {
	In     int       `json:"in"`
	Out    int       `json:"out"`
	Kernel int       `json:"kernel"`
	Stride int       `json:"stride"`
	Pad    int       `json:"pad"`
	W      []int8    `json:"w"` // Out*In*Kernel*Kernel, OIHW
	Scales []float64 `json:"scales"`
	B      []float64 `json:"b"`
}

// Quantize returns m with int8 weights, or nil when m is not a valid
// network (see CNN.Validate).
func Quantize(m *CNN) *Quantized {
	if m.Validate() != nil {
		return nil
	}
	q := &Quantized{Size: m.Size, Convs: make([]QConv, len(m.Convs)), Bias: m.Bias}
	for l, c := range m.Convs {
		qc := QConv{In: c.In, Out: c.Out, Kernel: c.Kernel, Stride: c.Stride, Pad: c.Pad,
			W: make([]int8, len(c.W)), Scales: make([]float64, c.Out), B: append([]float64(nil), c.B...)}
		k := len(c.W) / c.Out
		for o := range c.Out {
			qc.Scales[o] = quantize(c.W[o*k:(o+1)*k], qc.W[o*k:(o+1)*k])
		}
		q.Convs[l] = qc
	}
	q.Dense = make([]int8, len(m.Dense))
	q.DenseScale = quantize(m.Dense, q.Dense)
	return q
}

// quantize writes round(w/scale) into q and returns scale = max|w|/127,
// so that the largest weight maps to ±127 and -128 is never used (the
// range stays symmetric). An all-zero group gets scale 1: any scale
// reproduces it, and a zero scale would not survive a division.
func quantize(w []float64, q []int8) float64 {
	top := 0.0
	for _, v := range w {
		top = math.Max(top, math.Abs(v))
	}
	if !(top > 0) || math.IsInf(top, 1) {
		// Zero, or weights that are not finite and cannot be scaled: store
		// what survives of them, zeros.
		clear(q)
		return 1
	}
	scale := top / 127
	for i, v := range w {
		q[i] = int8(math.Max(-127, math.Min(127, math.Round(v/scale))))
	}
	return scale
}

// Validate reports whether q has the shapes of a valid network, like
// CNN.Validate, with one finite positive scale per conv output channel
// and a finite positive dense scale.
func (q *Quantized) Validate() error {
	if q == nil {
		return fmt.Errorf("%w: nil quantized model", ErrInvalidInput)
	}
	if err := q.shell().Validate(); err != nil {
		return err
	}
	for l, c := range q.Convs {
		if len(c.Scales) != c.Out {
			return fmt.Errorf("%w: quantized conv %d has %d scales for %d channels", ErrInvalidInput, l, len(c.Scales), c.Out)
		}
		for o, s := range c.Scales {
			if !(s > 0) || math.IsInf(s, 1) {
				return fmt.Errorf("%w: quantized conv %d channel %d has scale %v, want a positive finite number", ErrInvalidInput, l, o, s)
			}
		}
	}
	if !(q.DenseScale > 0) || math.IsInf(q.DenseScale, 1) {
		return fmt.Errorf("%w: quantized dense scale is %v, want a positive finite number", ErrInvalidInput, q.DenseScale)
	}
	return nil
}

// shell returns a CNN of q's shape whose weight slices have the lengths of
// q's but hold zeros: enough to check the shapes with CNN.Validate.
func (q *Quantized) shell() *CNN {
	m := &CNN{Size: q.Size, Convs: make([]Conv, len(q.Convs)), Dense: make([]float64, len(q.Dense)), Bias: q.Bias}
	for l, c := range q.Convs {
		m.Convs[l] = Conv{In: c.In, Out: c.Out, Kernel: c.Kernel, Stride: c.Stride, Pad: c.Pad,
			W: make([]float64, len(c.W)), B: append([]float64(nil), c.B...)}
	}
	return m
}

// Dequantize returns the float model with the int8-rounded weights, to
// measure the accuracy cost of quantization; nil when q is not valid (see
// Validate).
func (q *Quantized) Dequantize() *CNN {
	if q.Validate() != nil {
		return nil
	}
	m := q.shell()
	for l, c := range q.Convs {
		k := len(c.W) / c.Out
		for i, v := range c.W {
			m.Convs[l].W[i] = float64(v) * c.Scales[i/k]
		}
	}
	for i, v := range q.Dense {
		m.Dense[i] = float64(v) * q.DenseScale
	}
	return m
}
