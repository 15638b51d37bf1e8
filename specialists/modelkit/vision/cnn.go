package vision

import (
	"fmt"
	"math"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
)

// Conv is a 2-D convolution over a stack of feature maps, followed by
// ReLU: out[o] = ReLU(B[o] + Σ_i W[o,i] ⋆ in[i]), with zero padding of Pad
// pixels on every side and a step of Stride pixels.
type Conv struct {
	In     int       `json:"in"`     // input channels
	Out    int       `json:"out"`    // output channels
	Kernel int       `json:"kernel"` // kernel side
	Stride int       `json:"stride"`
	Pad    int       `json:"pad"`
	W      []float64 `json:"w"` // Out*In*Kernel*Kernel, OIHW
	B      []float64 `json:"b"` // Out
}

// outSide returns the side of the output maps for inputs of side in.
func (c *Conv) outSide(in int) int { return (in+2*c.Pad-c.Kernel)/c.Stride + 1 }

// CNN is the defect detector: the Convs in turn on the Size×Size image
// minus its mean pixel value, then P(defect) = σ(Bias + Dense · the last
// Conv's output flattened in CHW order).
//
// Centering the frame makes the network blind to exposure, which varies
// from frame to frame far more than a defect changes the frame, and makes
// the first conv's zero padding match the average surface instead of
// drawing a dark border around a bright frame. Without it the same network
// trains slowly and erratically: test ROC AUC 0.65-0.9 on the synthetic
// frames where it reaches 0.95.
type CNN struct {
	Size  int       `json:"size"`
	Convs []Conv    `json:"convs"`
	Dense []float64 `json:"dense"` // weights over the flattened last conv output, CHW order
	Bias  float64   `json:"bias"`
}

// Limits on the shape of a network, far above anything useful, so that a
// corrupt model or config is rejected instead of asking for absurd
// buffers. maxCells bounds the two buffers a layer needs per image, its
// unfolded input (In·Kernel² values per output pixel) and its output
// (Out per pixel): 512 MB each.
const (
	maxLayers   = 16
	maxChannels = 1024
	maxKernel   = 15
	maxCells    = 1 << 26
)

// Validate reports whether m is a network Predict can run: at least one
// Conv, the first reading one channel, each reading what the previous one
// writes, weight and bias counts matching the shapes, every output map at
// least one pixel, and Dense as long as the last output.
func (m *CNN) Validate() error {
	channels, side, err := m.shape()
	if err != nil {
		return err
	}
	for l := range m.Convs {
		c := &m.Convs[l]
		if len(c.W) != c.Out*c.In*c.Kernel*c.Kernel || len(c.B) != c.Out {
			return fmt.Errorf("%w: conv %d has %d weights and %d biases, want %d and %d",
				ErrInvalidInput, l, len(c.W), len(c.B), c.Out*c.In*c.Kernel*c.Kernel, c.Out)
		}
	}
	if len(m.Dense) != channels*side*side {
		return fmt.Errorf("%w: dense layer has %d weights, want %d (%d channels of %d×%d)",
			ErrInvalidInput, len(m.Dense), channels*side*side, channels, side, side)
	}
	return nil
}

// shape checks the geometry of the conv stack, ignoring the weights, and
// returns the shape of its output.
func (m *CNN) shape() (channels, side int, err error) {
	if m == nil {
		return 0, 0, fmt.Errorf("%w: nil CNN", ErrInvalidInput)
	}
	if m.Size < 1 || m.Size > maxSize {
		return 0, 0, fmt.Errorf("%w: CNN size is %d, want 1 to %d", ErrInvalidInput, m.Size, maxSize)
	}
	if len(m.Convs) < 1 || len(m.Convs) > maxLayers {
		return 0, 0, fmt.Errorf("%w: CNN has %d conv layers, want 1 to %d", ErrInvalidInput, len(m.Convs), maxLayers)
	}
	channels, side = 1, m.Size
	for l := range m.Convs {
		c := &m.Convs[l]
		if err := checkConvShape(l, c.In, c.Out, c.Kernel, c.Stride, c.Pad, channels, side); err != nil {
			return 0, 0, err
		}
		channels, side = c.Out, c.outSide(side)
		if cells := max(c.In*c.Kernel*c.Kernel, c.Out) * side * side; cells > maxCells {
			return 0, 0, fmt.Errorf("%w: conv %d would hold %d values per image, more than %d", ErrInvalidInput, l, cells, maxCells)
		}
	}
	return channels, side, nil
}

// checkConvShape checks the shape of conv layer l, which reads want
// channels of side pixels a side.
func checkConvShape(l, in, out, kernel, stride, pad, want, side int) error {
	switch {
	case in != want:
		return fmt.Errorf("%w: conv %d reads %d channels, but its input has %d", ErrInvalidInput, l, in, want)
	case out < 1 || out > maxChannels:
		return fmt.Errorf("%w: conv %d has %d output channels, want 1 to %d", ErrInvalidInput, l, out, maxChannels)
	case kernel < 1 || kernel > maxKernel || stride < 1 || stride > maxKernel || pad < 0 || pad >= kernel:
		return fmt.Errorf("%w: conv %d has kernel %d, stride %d, pad %d; want a kernel of 1 to %d, a stride of 1 to %d and a pad below the kernel",
			ErrInvalidInput, l, kernel, stride, pad, maxKernel, maxKernel)
	case side+2*pad < kernel:
		return fmt.Errorf("%w: conv %d has a %d×%d kernel for a %d×%d input padded by %d", ErrInvalidInput, l, kernel, kernel, side, side, pad)
	}
	return nil
}

// Predict returns P(defect) for im, or NaN when im is not a valid image of
// m.Size or m is not a valid network (see Validate).
func (m *CNN) Predict(im Image) float64 {
	p := m.PredictAll([]Image{im})
	return p[0]
}

// PredictAll returns Predict of each image.
func (m *CNN) PredictAll(ims []Image) []float64 {
	out := make([]float64, len(ims))
	if m.Validate() != nil {
		for i := range out {
			out[i] = math.NaN()
		}
		return out
	}
	net := newNetwork(m)
	ws := net.workspace()
	for i, im := range ims {
		if im.check(m.Size) != nil {
			out[i] = math.NaN()
			continue
		}
		out[i] = modelkit.Sigmoid(net.forward(im.Pix, ws))
	}
	return out
}

// Params returns the number of parameters: every weight and bias.
func (m *CNN) Params() int {
	n := len(m.Dense) + 1
	for _, c := range m.Convs {
		n += len(c.W) + len(c.B)
	}
	return n
}

// OutSize returns the shape of the last conv output, the input of the
// dense layer, from the conv layers' sizes alone (so it can size Dense for
// a network being built); (0, 0) when those do not fit together.
func (m *CNN) OutSize() (channels, side int) {
	channels, side, err := m.shape()
	if err != nil {
		return 0, 0
	}
	return channels, side
}

// clone returns a deep copy of m.
func (m *CNN) clone() *CNN {
	c := &CNN{Size: m.Size, Convs: make([]Conv, len(m.Convs)), Dense: append([]float64(nil), m.Dense...), Bias: m.Bias}
	for l, cv := range m.Convs {
		cv.W = append([]float64(nil), cv.W...)
		cv.B = append([]float64(nil), cv.B...)
		c.Convs[l] = cv
	}
	return c
}

// network is a validated CNN with the sizes its passes need.
type network struct {
	m      *CNN
	layers []layer
}

// layer is one Conv with the geometry of its input and output.
type layer struct {
	*Conv
	inSide, outSide int
	k               int // In*Kernel*Kernel: rows of the unfolded input, columns of W
	p               int // outSide²: pixels of each output map
}

func newNetwork(m *CNN) *network {
	net := &network{m: m, layers: make([]layer, len(m.Convs))}
	side := m.Size
	for l := range m.Convs {
		c := &m.Convs[l]
		out := c.outSide(side)
		net.layers[l] = layer{Conv: c, inSide: side, outSide: out, k: c.In * c.Kernel * c.Kernel, p: out * out}
		side = out
	}
	return net
}

// workspace holds one image's intermediate values: each layer's unfolded
// input (im2col) and its activations, kept for the backward pass.
type workspace struct {
	input []float64   // the image minus its mean
	cols  [][]float64 // k × p, row-major
	acts  [][]float64 // Out × p, after ReLU
}

func (n *network) workspace() *workspace {
	ws := &workspace{input: make([]float64, n.m.Size*n.m.Size), cols: make([][]float64, len(n.layers)), acts: make([][]float64, len(n.layers))}
	for l, ly := range n.layers {
		ws.cols[l] = make([]float64, ly.k*ly.p)
		ws.acts[l] = make([]float64, ly.Out*ly.p)
	}
	return ws
}

// forward returns the logit for the image pixels pix, leaving each layer's
// unfolded input and activations in ws.
func (n *network) forward(pix []float64, ws *workspace) float64 {
	in := ws.input
	center(pix, in)
	for l := range n.layers {
		ly := &n.layers[l]
		col, act := ws.cols[l], ws.acts[l]
		ly.im2col(in, col)
		for o := range ly.Out {
			out := act[o*ly.p : (o+1)*ly.p]
			b := ly.B[o]
			for i := range out {
				out[i] = b
			}
			w := ly.W[o*ly.k : (o+1)*ly.k]
			gemvRows(w, col, ly.p, out)
			for i, v := range out {
				if v < 0 {
					out[i] = 0
				}
			}
		}
		in = act
	}
	return n.m.Bias + dot(n.m.Dense, in)
}

// center writes pix minus its mean into dst.
func center(pix, dst []float64) {
	mean := 0.0
	for _, v := range pix {
		mean += v
	}
	mean /= float64(len(pix))
	for i, v := range pix {
		dst[i] = v - mean
	}
}

// im2col unfolds the input maps in (In × inSide²) into col (k × p): row
// (i, ky, kx) holds, for each output pixel, the input pixel that kernel
// tap meets, or 0 in the padding. A convolution is then a matrix product
// over contiguous rows.
func (ly *layer) im2col(in, col []float64) {
	kk, s, pad, side, os := ly.Kernel, ly.Stride, ly.Pad, ly.inSide, ly.outSide
	r := 0
	for i := range ly.In {
		src := in[i*side*side : (i+1)*side*side]
		for ky := range kk {
			for kx := range kk {
				dst := col[r*ly.p : (r+1)*ly.p]
				r++
				lo, hi := validRange(kx, s, pad, side, os)
				for oy := range os {
					row := dst[oy*os : (oy+1)*os]
					iy := oy*s + ky - pad
					if iy < 0 || iy >= side {
						clear(row)
						continue
					}
					srow := src[iy*side : (iy+1)*side]
					clear(row[:lo])
					for ox := lo; ox < hi; ox++ {
						row[ox] = srow[ox*s+kx-pad]
					}
					clear(row[hi:])
				}
			}
		}
	}
}

// col2im is the adjoint of im2col: it adds each entry of dcol back onto
// the input pixel it was copied from, giving the gradient by the input
// maps in din, which it overwrites.
func (ly *layer) col2im(dcol, din []float64) {
	kk, s, pad, side, os := ly.Kernel, ly.Stride, ly.Pad, ly.inSide, ly.outSide
	clear(din)
	r := 0
	for i := range ly.In {
		dst := din[i*side*side : (i+1)*side*side]
		for ky := range kk {
			for kx := range kk {
				src := dcol[r*ly.p : (r+1)*ly.p]
				r++
				lo, hi := validRange(kx, s, pad, side, os)
				for oy := range os {
					iy := oy*s + ky - pad
					if iy < 0 || iy >= side {
						continue
					}
					row := src[oy*os : (oy+1)*os]
					drow := dst[iy*side : (iy+1)*side]
					for ox := lo; ox < hi; ox++ {
						drow[ox*s+kx-pad] += row[ox]
					}
				}
			}
		}
	}
}

// validRange returns the output columns [lo, hi) whose kernel tap kx falls
// inside the input row rather than in the padding.
func validRange(kx, s, pad, side, os int) (lo, hi int) {
	// ox*s + kx - pad ≥ 0  ⇔  ox ≥ ⌈(pad-kx)/s⌉
	if d := pad - kx; d > 0 {
		lo = (d + s - 1) / s
	}
	// ox*s + kx - pad ≤ side-1  ⇔  ox ≤ ⌊(side-1+pad-kx)/s⌋; when that
	// bound is negative (a tap past a small input) no column is valid.
	if d := side - 1 + pad - kx; d >= 0 {
		hi = min(os, d/s+1)
	}
	return min(lo, hi), hi
}

// gemvRows adds Σ_r w[r]·m[r] to out, where m holds len(w) rows of n
// values. Four rows go per pass so that each element of out is loaded
// and stored a quarter as often.
func gemvRows(w, m []float64, n int, out []float64) {
	out = out[:n]
	r := 0
	for ; r+4 <= len(w); r += 4 {
		w0, w1, w2, w3 := w[r], w[r+1], w[r+2], w[r+3]
		// Slicing each row to len(out) lets the compiler drop the bounds
		// checks in the loop, the package's hottest.
		m0 := m[r*n:][:len(out)]
		m1 := m[(r+1)*n:][:len(out)]
		m2 := m[(r+2)*n:][:len(out)]
		m3 := m[(r+3)*n:][:len(out)]
		for i := range out {
			out[i] += w0*m0[i] + w1*m1[i] + w2*m2[i] + w3*m3[i]
		}
	}
	for ; r < len(w); r++ {
		axpy(w[r], m[r*n:r*n+n], out)
	}
}

// axpy adds a·x to y.
func axpy(a float64, x, y []float64) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

// dot returns Σ a[i]·b[i], with four partial sums so that the additions
// do not wait on one another.
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}
