package mlp

import (
	"math"
	"math/rand/v2"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
)

// Adam's decay rates and the floor under its denominator, the values of
// the original paper.
const (
	beta1   = 0.9
	beta2   = 0.999
	epsilon = 1e-8
)

// params holds one value per weight and bias of a network, laid out like
// its layers: the gradients and Adam's two moment estimates.
type params struct{ w, b [][]float64 }

func newParams(net *modelkit.MLP) params {
	p := params{w: make([][]float64, len(net.Layers)), b: make([][]float64, len(net.Layers))}
	for l, layer := range net.Layers {
		p.w[l] = make([]float64, len(layer.W))
		p.b[l] = make([]float64, len(layer.B))
	}
	return p
}

// trainer owns the network being trained and every buffer a step needs,
// so that an epoch allocates nothing.
type trainer struct {
	net    *modelkit.MLP
	x      modelkit.Matrix
	y      []float64
	p      Params
	rng    *rand.Rand
	order  []int       // row indices, reshuffled each epoch
	acts   [][]float64 // each layer's output for the current row
	deltas [][]float64 // the loss's derivative by each layer's pre-activation
	grad   params
	m, v   params
	steps  int // Adam steps taken, for its bias correction
}

// newTrainer draws the initial weights from rng: He initialisation, a
// normal with variance 2/In, which keeps the scale of ReLU activations
// steady from layer to layer; biases start at zero.
func newTrainer(x modelkit.Matrix, y []float64, p Params, rng *rand.Rand) *trainer {
	widths := append(append([]int{x.Cols}, p.Hidden...), 1)
	net := &modelkit.MLP{Layers: make([]modelkit.Layer, len(widths)-1)}
	acts := make([][]float64, len(net.Layers))
	deltas := make([][]float64, len(net.Layers))
	for l := range net.Layers {
		in, out := widths[l], widths[l+1]
		w := make([]float64, out*in)
		std := math.Sqrt(2 / float64(in))
		for k := range w {
			w[k] = std * rng.NormFloat64()
		}
		net.Layers[l] = modelkit.Layer{In: in, Out: out, W: w, B: make([]float64, out), ReLU: l < len(net.Layers)-1}
		acts[l] = make([]float64, out)
		deltas[l] = make([]float64, out)
	}
	order := make([]int, x.Rows)
	for i := range order {
		order[i] = i
	}
	return &trainer{
		net: net, x: x, y: y, p: p, rng: rng, order: order, acts: acts, deltas: deltas,
		grad: newParams(net), m: newParams(net), v: newParams(net),
	}
}

// epoch shuffles the rows and takes one Adam step per mini-batch.
func (t *trainer) epoch() {
	t.rng.Shuffle(len(t.order), func(i, j int) { t.order[i], t.order[j] = t.order[j], t.order[i] })
	for start := 0; start < len(t.order); start += t.p.BatchSize {
		t.step(t.order[start:min(start+t.p.BatchSize, len(t.order))])
	}
}

func (t *trainer) step(batch []int) {
	t.backward(batch)
	t.steps++
	scale := 1 / float64(len(batch))
	c1 := 1 - math.Pow(beta1, float64(t.steps))
	c2 := 1 - math.Pow(beta2, float64(t.steps))
	for l, layer := range t.net.Layers {
		adam(layer.W, t.grad.w[l], t.m.w[l], t.v.w[l], scale, t.p.L2, t.p.LearningRate, c1, c2)
		adam(layer.B, t.grad.b[l], t.m.b[l], t.v.b[l], scale, 0, t.p.LearningRate, c1, c2)
	}
}

// backward leaves in t.grad the gradient of the log-loss summed over the
// batch's rows, by backpropagation.
func (t *trainer) backward(batch []int) {
	layers := t.net.Layers
	last := len(layers) - 1
	for l := range layers {
		clear(t.grad.w[l])
		clear(t.grad.b[l])
	}
	for _, i := range batch {
		row := t.x.Row(i)
		t.deltas[last][0] = modelkit.Sigmoid(forward(t.net, row, t.acts)) - t.y[i]
		for l := last; l >= 0; l-- {
			layer := &layers[l]
			in := row
			if l > 0 {
				in = t.acts[l-1]
			}
			gw, gb := t.grad.w[l], t.grad.b[l]
			for o, d := range t.deltas[l] {
				if d == 0 {
					continue // a unit ReLU switched off contributes nothing
				}
				gb[o] += d
				g := gw[o*layer.In : (o+1)*layer.In]
				for k, a := range in {
					g[k] += d * a
				}
			}
			if l == 0 {
				break
			}
			prev := t.deltas[l-1]
			clear(prev)
			for o, d := range t.deltas[l] {
				if d == 0 {
					continue
				}
				for k, w := range layer.W[o*layer.In : (o+1)*layer.In] {
					prev[k] += w * d
				}
			}
			for k, a := range in { // every hidden layer is ReLU
				if a <= 0 {
					prev[k] = 0
				}
			}
		}
	}
}

// adam updates the values x from summed gradients g (scaled to a mean by
// scale, plus the penalty l2·x) and their moment estimates m and v, whose
// bias corrections are c1 and c2.
func adam(x, g, m, v []float64, scale, l2, lr, c1, c2 float64) {
	for k := range x {
		gk := g[k]*scale + l2*x[k]
		m[k] = beta1*m[k] + (1-beta1)*gk
		v[k] = beta2*v[k] + (1-beta2)*gk*gk
		x[k] -= lr * (m[k] / c1) / (math.Sqrt(v[k]/c2) + epsilon)
	}
}

// forward returns the logit for x, leaving each layer's output in acts.
// It sums in the same order as modelkit.MLP.Predict, so the two agree.
func forward(net *modelkit.MLP, x []float64, acts [][]float64) float64 {
	in := x
	for l := range net.Layers {
		layer := &net.Layers[l]
		out := acts[l]
		for o := range out {
			z := layer.B[o]
			for k, w := range layer.W[o*layer.In : (o+1)*layer.In] {
				z += w * in[k]
			}
			if layer.ReLU && z < 0 {
				z = 0
			}
			out[o] = z
		}
		in = out
	}
	return in[0]
}

// logLoss is the mean log-loss of net over x and y, computed from the
// logit z as log(1+e^z) − y·z so that no logit overflows it.
func logLoss(net *modelkit.MLP, x modelkit.Matrix, y []float64, acts [][]float64) float64 {
	sum := 0.0
	for i := range x.Rows {
		z := forward(net, x.Row(i), acts)
		sum += math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z))) - y[i]*z
	}
	return sum / float64(x.Rows)
}

func cloneMLP(net *modelkit.MLP) *modelkit.MLP {
	c := &modelkit.MLP{Layers: make([]modelkit.Layer, len(net.Layers))}
	for l, layer := range net.Layers {
		layer.W = append([]float64(nil), layer.W...)
		layer.B = append([]float64(nil), layer.B...)
		c.Layers[l] = layer
	}
	return c
}

// copyMLP copies src's weights and biases into dst, of the same shape.
func copyMLP(dst, src *modelkit.MLP) {
	for l := range src.Layers {
		copy(dst.Layers[l].W, src.Layers[l].W)
		copy(dst.Layers[l].B, src.Layers[l].B)
	}
}
