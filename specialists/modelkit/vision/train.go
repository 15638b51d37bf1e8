package vision

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/evaluate"
)

// Config controls Train. The zero value trains the default network.
type Config struct {
	Size         int      // 0: DefaultSize
	Channels     []int    // nil: [8, 16, 16]
	Epochs       int      // 0: 10
	BatchSize    int      // 0: 32
	LearningRate float64  // Adam; 0: 0.003
	L2           float64  // penalty L2/2·Σw² on the weights (not the biases)
	Augment      *Augment // nil: no augmentation
	// Freeze keeps the first Freeze conv layers of init as they are
	// (transfer learning: fine-tune a pretrained backbone). It needs init.
	Freeze int
	// Workers splits each minibatch into Workers shards whose gradients
	// are computed on goroutines and summed in shard order, so the result
	// is deterministic for a given Workers (but differs, by rounding,
	// between values of Workers); 0: 1.
	Workers int
	Seed    uint64
}

// maxWorkers bounds Config.Workers; more goroutines than cores only add
// overhead.
const maxWorkers = 256

func (c Config) withDefaults() (Config, error) {
	if c.Size == 0 {
		c.Size = DefaultSize
	}
	if c.Channels == nil {
		c.Channels = []int{8, 16, 16}
	}
	if c.Epochs == 0 {
		c.Epochs = 10
	}
	if c.BatchSize == 0 {
		c.BatchSize = 32
	}
	if c.LearningRate == 0 {
		c.LearningRate = 0.003
	}
	if c.Workers == 0 {
		c.Workers = 1
	}
	switch {
	case c.Size < 4 || c.Size > maxSize:
		return c, fmt.Errorf("%w: Config.Size is %d, want 4 to %d (or 0 for %d)", ErrInvalidInput, c.Size, maxSize, DefaultSize)
	case len(c.Channels) < 1 || len(c.Channels) > maxLayers:
		return c, fmt.Errorf("%w: Config.Channels has %d layers, want 1 to %d", ErrInvalidInput, len(c.Channels), maxLayers)
	case c.Epochs < 1:
		return c, fmt.Errorf("%w: Config.Epochs is %d, want at least 1 (or 0 for 10)", ErrInvalidInput, c.Epochs)
	case c.BatchSize < 1:
		return c, fmt.Errorf("%w: Config.BatchSize is %d, want at least 1 (or 0 for 32)", ErrInvalidInput, c.BatchSize)
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 1):
		return c, fmt.Errorf("%w: Config.LearningRate is %v, want a positive finite number (or 0 for 0.003)", ErrInvalidInput, c.LearningRate)
	case !(c.L2 >= 0) || math.IsInf(c.L2, 1):
		return c, fmt.Errorf("%w: Config.L2 is %v, want a finite number ≥ 0", ErrInvalidInput, c.L2)
	case c.Freeze < 0 || c.Freeze > len(c.Channels):
		return c, fmt.Errorf("%w: Config.Freeze is %d, want 0 to %d (the number of conv layers)", ErrInvalidInput, c.Freeze, len(c.Channels))
	case c.Workers < 1 || c.Workers > maxWorkers:
		return c, fmt.Errorf("%w: Config.Workers is %d, want 1 to %d (or 0 for 1)", ErrInvalidInput, c.Workers, maxWorkers)
	}
	for l, ch := range c.Channels {
		if ch < 1 || ch > maxChannels {
			return c, fmt.Errorf("%w: Config.Channels[%d] is %d, want 1 to %d", ErrInvalidInput, l, ch, maxChannels)
		}
	}
	if c.Augment != nil {
		if err := c.Augment.check(); err != nil {
			return c, err
		}
	}
	if _, _, err := c.shell().shape(); err != nil {
		return c, fmt.Errorf("Config.Size and Channels: %w", err)
	}
	return c, nil
}

// shell returns the network c describes, without weights.
func (c Config) shell() *CNN {
	m := &CNN{Size: c.Size, Convs: make([]Conv, len(c.Channels))}
	in := 1
	for l, out := range c.Channels {
		m.Convs[l] = Conv{In: in, Out: out, Kernel: kernelSide, Stride: layerStride(l), Pad: kernelPad}
		in = out
	}
	return m
}

// The architecture Train builds: 3×3 kernels with padding 1, which keep
// the side, and strides of 2 after the first layer, which halve it, so
// that the last layer sees the whole frame while the dense layer stays
// small. (Pooling would do the same, but gonnx cannot run it.)
const (
	kernelSide = 3
	kernelPad  = 1
)

func layerStride(l int) int {
	if l == 0 {
		return 1
	}
	return 2
}

// Epoch is the training history of one pass over the training set.
// ValidLoss and ValidAUC are 0 when there is no validation set, and
// ValidAUC also when it holds one class only.
type Epoch struct {
	Epoch     int     // counts from 1
	TrainLoss float64 // mean log-loss over the epoch's batches, each taken before its step
	ValidLoss float64 // mean log-loss on the validation set after the epoch
	ValidAUC  float64 // ROC AUC on the validation set after the epoch
}

// Train fits a CNN by Adam on binary cross-entropy (defect vs ok), the
// mean over each minibatch plus L2/2·Σw² over the weights. init, when not
// nil, is a pretrained model whose weights start the training (its Size
// and Channels must match cfg, else an error naming the mismatch); Freeze
// then keeps its first layers fixed, bit for bit. Without init the weights
// start at random and the bias at the training set's log odds of a
// defect. valid may be empty. Train returns the model of the epoch with the
// best validation loss (or the last without valid) and the per-epoch
// history. It stops between batches when ctx is done, returning ctx's
// error and the history so far. The result is the same for the same
// inputs and Config.
//
// Errors wrap ErrInvalidInput when the samples or cfg are unusable and
// ErrDiverged when the training loss stops being finite.
func Train(ctx context.Context, train, valid []Sample, cfg Config, init *CNN) (*CNN, []Epoch, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, nil, fmt.Errorf("train cnn: %w", err)
	}
	if init != nil {
		if err := matchInit(init, cfg); err != nil {
			return nil, nil, fmt.Errorf("train cnn: %w", err)
		}
	} else if cfg.Freeze > 0 {
		return nil, nil, fmt.Errorf("train cnn: %w: Config.Freeze is %d but there is no pretrained model to freeze", ErrInvalidInput, cfg.Freeze)
	}
	if err := checkSamples("training", train, cfg.Size, true); err != nil {
		return nil, nil, fmt.Errorf("train cnn: %w", err)
	}
	if err := checkSamples("validation", valid, cfg.Size, false); err != nil {
		return nil, nil, fmt.Errorf("train cnn: %w", err)
	}

	t := newTrainer(train, cfg, init)
	v := newValidator(valid)
	var history []Epoch
	best, bestLoss := slices.Clone(t.params), math.Inf(1)
	for e := 1; e <= cfg.Epochs; e++ {
		loss, err := t.epoch(ctx)
		if err != nil {
			return nil, history, fmt.Errorf("train cnn: epoch %d: %w", e, err)
		}
		ep := Epoch{Epoch: e, TrainLoss: loss}
		if !isFinite(loss) {
			history = append(history, ep)
			return nil, history, fmt.Errorf("train cnn: epoch %d: training loss is %v: %w (try a smaller LearningRate)", e, loss, ErrDiverged)
		}
		if len(valid) > 0 {
			ep.ValidLoss, ep.ValidAUC = v.score(t)
		}
		history = append(history, ep)
		if !isFinite(ep.ValidLoss) {
			return nil, history, fmt.Errorf("train cnn: epoch %d: validation loss is %v: %w (try a smaller LearningRate)", e, ep.ValidLoss, ErrDiverged)
		}
		if len(valid) == 0 || ep.ValidLoss < bestLoss {
			copy(best, t.params)
			bestLoss = ep.ValidLoss
		}
	}
	copy(t.params, best)
	t.syncBias()
	return t.model.clone(), history, nil
}

// checkSamples checks that every sample is a valid image of the given
// side with a known kind, and for a training set that there are some and
// of both classes.
func checkSamples(set string, samples []Sample, size int, training bool) error {
	defects := 0
	for i, s := range samples {
		if err := s.Image.check(size); err != nil {
			return fmt.Errorf("%s sample %d: %w", set, i, err)
		}
		if s.Kind > Crack {
			return fmt.Errorf("%w: %s sample %d has kind %d, want 0 to %d", ErrInvalidInput, set, i, s.Kind, Crack)
		}
		if s.Defect() {
			defects++
		}
	}
	if !training {
		return nil
	}
	switch {
	case len(samples) == 0:
		return fmt.Errorf("%w: empty training set", ErrInvalidInput)
	case defects == 0:
		return fmt.Errorf("%w: the %d training samples show no defect", ErrInvalidInput, len(samples))
	case defects == len(samples):
		return fmt.Errorf("%w: the %d training samples all show a defect", ErrInvalidInput, len(samples))
	}
	return nil
}

// matchInit checks that the pretrained model has the architecture cfg
// describes.
func matchInit(init *CNN, cfg Config) error {
	if err := init.Validate(); err != nil {
		return fmt.Errorf("pretrained model: %w", err)
	}
	if !finite(init.Dense) || !isFinite(init.Bias) || slices.ContainsFunc(init.Convs, func(c Conv) bool { return !finite(c.W) || !finite(c.B) }) {
		return fmt.Errorf("%w: pretrained model has weights that are not finite", ErrInvalidInput)
	}
	if init.Size != cfg.Size {
		return fmt.Errorf("%w: pretrained model takes %d×%d images, Config.Size is %d", ErrInvalidInput, init.Size, init.Size, cfg.Size)
	}
	channels := make([]int, len(init.Convs))
	for l, c := range init.Convs {
		channels[l] = c.Out
	}
	if !slices.Equal(channels, cfg.Channels) {
		return fmt.Errorf("%w: pretrained model has channels %v, Config.Channels is %v", ErrInvalidInput, channels, cfg.Channels)
	}
	for l, c := range init.Convs {
		if c.Kernel != kernelSide || c.Pad != kernelPad || c.Stride != layerStride(l) {
			return fmt.Errorf("%w: pretrained conv %d has kernel %d, stride %d, pad %d; Train builds kernel %d, stride %d, pad %d",
				ErrInvalidInput, l, c.Kernel, c.Stride, c.Pad, kernelSide, layerStride(l), kernelPad)
		}
	}
	return nil
}

// Adam's decay rates and the floor under its denominator, the values of
// the original paper.
const (
	beta1   = 0.9
	beta2   = 0.999
	epsilon = 1e-8
)

// trainer owns the network being trained. Its weights live in one flat
// vector, params, that the model's slices alias; gradients and Adam's
// moments share that layout.
type trainer struct {
	cfg   Config
	train []Sample
	rng   *rand.Rand
	order []int
	batch []Image // the current batch's images, augmented

	model  *CNN // Convs[l].W, Convs[l].B and Dense alias params
	net    *network
	params []float64
	lay    layout
	grad   []float64 // the batch's summed gradient
	m, v   []float64
	steps  int
	// wt[l] is Convs[l].W transposed (k × Out), refreshed after each
	// step, so that the backward pass reads it row by row.
	wt [][]float64

	workers []*worker
}

// layout locates each parameter group in the flat vector: conv l's
// weights at w[l], its biases at b[l], then the dense weights and bias.
type layout struct {
	w, b        []int
	dense, bias int
}

func newTrainer(train []Sample, cfg Config, init *CNN) *trainer {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7a11c0de))
	model := cfg.shell()
	var lay layout
	n := 0
	for _, c := range model.Convs {
		lay.w = append(lay.w, n)
		n += c.Out * c.In * kernelSide * kernelSide
		lay.b = append(lay.b, n)
		n += c.Out
	}
	lay.dense = n
	channels, side := model.OutSize()
	n += channels * side * side
	lay.bias = n
	n++

	t := &trainer{
		cfg: cfg, train: train, rng: rng, batch: make([]Image, cfg.BatchSize),
		model: model, params: make([]float64, n), lay: lay,
		grad: make([]float64, n), m: make([]float64, n), v: make([]float64, n),
		wt: make([][]float64, len(cfg.Channels)),
	}
	t.order = make([]int, len(train))
	for i := range t.order {
		t.order[i] = i
	}
	for l := range model.Convs {
		c := &model.Convs[l]
		c.W = t.params[lay.w[l] : lay.w[l]+c.Out*c.In*kernelSide*kernelSide]
		c.B = t.params[lay.b[l] : lay.b[l]+c.Out]
		t.wt[l] = make([]float64, len(c.W))
	}
	model.Dense = t.params[lay.dense:lay.bias]

	if init != nil {
		for l := range model.Convs {
			copy(model.Convs[l].W, init.Convs[l].W)
			copy(model.Convs[l].B, init.Convs[l].B)
		}
		copy(model.Dense, init.Dense)
		t.params[lay.bias] = init.Bias
	} else {
		// He initialisation, a normal of variance 2/fan-in, keeps the
		// scale of ReLU activations steady from layer to layer. Each kernel
		// is then shifted to sum to zero, so that it starts out measuring
		// contrast, what defects are made of, rather than brightness.
		for l := range model.Convs {
			c := &model.Convs[l]
			std := math.Sqrt(2 / float64(c.In*kernelSide*kernelSide))
			for i := range c.W {
				c.W[i] = std * rng.NormFloat64()
			}
			zeroMean(c.W, c.Out)
		}
		// The dense weights start equal across the positions of each
		// channel: the network starts as global average pooling and a
		// linear unit, so a feature found anywhere counts from the first
		// step. Random weights per position would each have to be learnt
		// from the few defects that fall there.
		last := cfg.Channels[len(cfg.Channels)-1]
		per := len(model.Dense) / last
		for c := range last {
			v := denseInitScale * rng.NormFloat64() / math.Sqrt(float64(last)) / float64(per)
			for i := range per {
				model.Dense[c*per+i] = v
			}
		}
		// The bias starts at the log odds of a defect, so that the first
		// steps learn features rather than the base rate.
		pos := 0
		for _, s := range train {
			if s.Defect() {
				pos++
			}
		}
		t.params[lay.bias] = math.Log(float64(pos) / float64(len(train)-pos))
	}
	t.syncBias()
	t.net = newNetwork(model)
	t.transpose()
	t.workers = make([]*worker, cfg.Workers)
	for i := range t.workers {
		t.workers[i] = newWorker(t.net, n)
	}
	return t
}

// denseInitScale is the standard deviation of a channel's initial dense
// weight (before it is spread over the positions) times the square root of
// the channel count. 1 and 10 did about as well as 4 in trials on the
// synthetic frames; the scale matters little once the weights are shared.
const denseInitScale = 4.0

// zeroMean shifts each of the out equal parts of w to sum to zero.
func zeroMean(w []float64, out int) {
	k := len(w) / out
	for o := range out {
		part := w[o*k : (o+1)*k]
		m := 0.0
		for _, v := range part {
			m += v
		}
		m /= float64(k)
		for i := range part {
			part[i] -= m
		}
	}
}

// syncBias copies the bias, a plain field of CNN, from params.
func (t *trainer) syncBias() { t.model.Bias = t.params[t.lay.bias] }

// transpose refreshes wt from the current weights.
func (t *trainer) transpose() {
	for l, ly := range t.net.layers {
		wt := t.wt[l]
		for o := range ly.Out {
			for r := range ly.k {
				wt[r*ly.Out+o] = ly.W[o*ly.k+r]
			}
		}
	}
}

// epoch shuffles the training set, takes one Adam step per minibatch and
// returns the mean loss.
func (t *trainer) epoch(ctx context.Context) (float64, error) {
	t.rng.Shuffle(len(t.order), func(i, j int) { t.order[i], t.order[j] = t.order[j], t.order[i] })
	total := 0.0
	for start := 0; start < len(t.order); start += t.cfg.BatchSize {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		total += t.step(t.order[start:min(start+t.cfg.BatchSize, len(t.order))])
	}
	return total / float64(len(t.order)), nil
}

// step takes one Adam step on the samples idx and returns their summed
// loss before the step.
func (t *trainer) step(idx []int) float64 {
	images := t.batch[:len(idx)]
	for j, i := range idx {
		images[j] = t.train[i].Image
		if t.cfg.Augment != nil {
			images[j] = t.cfg.Augment.Apply(images[j], t.rng)
		}
	}
	// Shard s gets the contiguous run [s·n/W, (s+1)·n/W) of the batch.
	nw := len(t.workers)
	shard := func(s int) {
		w := t.workers[s]
		w.reset()
		lo, hi := s*len(idx)/nw, (s+1)*len(idx)/nw
		for j := lo; j < hi; j++ {
			w.sample(t, images[j], label(t.train[idx[j]]))
		}
	}
	if nw == 1 {
		shard(0)
	} else {
		var wg sync.WaitGroup
		for s := range nw {
			wg.Go(func() { shard(s) })
		}
		wg.Wait()
	}
	copy(t.grad, t.workers[0].grad)
	loss := t.workers[0].loss
	for _, w := range t.workers[1:] {
		for i, g := range w.grad {
			t.grad[i] += g
		}
		loss += w.loss
	}

	t.steps++
	scale := 1 / float64(len(idx))
	c1 := 1 - math.Pow(beta1, float64(t.steps))
	c2 := 1 - math.Pow(beta2, float64(t.steps))
	lr, l2 := t.cfg.LearningRate, t.cfg.L2
	for l := t.cfg.Freeze; l < len(t.lay.w); l++ {
		t.adam(t.lay.w[l], t.lay.b[l], scale, l2, lr, c1, c2)
		t.adam(t.lay.b[l], t.lay.b[l]+t.net.layers[l].Out, scale, 0, lr, c1, c2)
	}
	t.adam(t.lay.dense, t.lay.bias, scale, l2, lr, c1, c2)
	t.adam(t.lay.bias, t.lay.bias+1, scale, 0, lr, c1, c2)
	t.syncBias()
	t.transpose()
	return loss
}

// adam updates params[lo:hi] from the summed gradient (scaled to a mean
// by scale, plus the penalty's l2·w), with bias corrections c1 and c2.
func (t *trainer) adam(lo, hi int, scale, l2, lr, c1, c2 float64) {
	x, g, m, v := t.params[lo:hi], t.grad[lo:hi], t.m[lo:hi], t.v[lo:hi]
	for k := range x {
		gk := g[k]*scale + l2*x[k]
		m[k] = beta1*m[k] + (1-beta1)*gk
		v[k] = beta2*v[k] + (1-beta2)*gk*gk
		x[k] -= lr * (m[k] / c1) / (math.Sqrt(v[k]/c2) + epsilon)
	}
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func finite(v []float64) bool {
	return !slices.ContainsFunc(v, func(x float64) bool { return !isFinite(x) })
}

func label(s Sample) float64 {
	if s.Defect() {
		return 1
	}
	return 0
}

// logLoss is the binary cross-entropy of the logit z for label y,
// log(1+e^z) − y·z, computed without overflow.
func logLoss(z, y float64) float64 {
	return max(z, 0) - y*z + math.Log1p(math.Exp(-math.Abs(z)))
}

// worker computes the gradient of one shard of a batch with its own
// buffers.
type worker struct {
	ws    *workspace
	dacts [][]float64 // loss gradient by each layer's activations
	dcol  []float64   // loss gradient by a layer's unfolded input
	grad  []float64   // summed over the shard, in the trainer's layout
	loss  float64
}

func newWorker(net *network, nParams int) *worker {
	w := &worker{ws: net.workspace(), dacts: make([][]float64, len(net.layers)), grad: make([]float64, nParams)}
	most := 0
	for l, ly := range net.layers {
		w.dacts[l] = make([]float64, ly.Out*ly.p)
		most = max(most, ly.k*ly.p)
	}
	w.dcol = make([]float64, most)
	return w
}

func (w *worker) reset() {
	clear(w.grad)
	w.loss = 0
}

// sample adds the loss of one image with label y, and its gradient by
// every parameter of the layers that are not frozen, by backpropagation.
func (w *worker) sample(t *trainer, im Image, y float64) {
	net, lay := t.net, &t.lay
	z := net.forward(im.Pix, w.ws)
	w.loss += logLoss(z, y)
	g := modelkit.Sigmoid(z) - y // d loss / d z

	last := len(net.layers) - 1
	axpy(g, w.ws.acts[last], w.grad[lay.dense:lay.bias])
	w.grad[lay.bias] += g
	d := w.dacts[last]
	for i, v := range net.m.Dense {
		d[i] = g * v
	}
	for l := last; l >= t.cfg.Freeze; l-- {
		ly := &net.layers[l]
		act, col, d := w.ws.acts[l], w.ws.cols[l], w.dacts[l]
		for i, a := range act { // through the ReLU
			if a <= 0 {
				d[i] = 0
			}
		}
		gw := w.grad[lay.w[l] : lay.w[l]+len(ly.W)]
		gb := w.grad[lay.b[l] : lay.b[l]+ly.Out]
		for o := range ly.Out {
			do := d[o*ly.p : (o+1)*ly.p]
			s := 0.0
			for _, v := range do {
				s += v
			}
			if s == 0 && allZero(do) {
				continue // a channel that is off everywhere adds no gradient
			}
			gb[o] += s
			dotRows(do, col, ly.p, gw[o*ly.k:(o+1)*ly.k])
		}
		if l == t.cfg.Freeze {
			break // the layers below are frozen: no gradient needed
		}
		dcol := w.dcol[:ly.k*ly.p]
		wt := t.wt[l]
		for r := range ly.k {
			row := dcol[r*ly.p : (r+1)*ly.p]
			clear(row)
			gemvRows(wt[r*ly.Out:(r+1)*ly.Out], d, ly.p, row)
		}
		ly.col2im(dcol, w.dacts[l-1])
	}
}

func allZero(v []float64) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// dotRows adds to out[r] the dot product of a with row r of m, whose rows
// have len(a) values; it takes four rows per pass so that a is read a
// quarter as often.
func dotRows(a, m []float64, n int, out []float64) {
	a = a[:n]
	r := 0
	for ; r+4 <= len(out); r += 4 {
		m0 := m[r*n:][:len(a)]
		m1 := m[(r+1)*n:][:len(a)]
		m2 := m[(r+2)*n:][:len(a)]
		m3 := m[(r+3)*n:][:len(a)]
		var s0, s1, s2, s3 float64
		for i, v := range a {
			s0 += v * m0[i]
			s1 += v * m1[i]
			s2 += v * m2[i]
			s3 += v * m3[i]
		}
		out[r] += s0
		out[r+1] += s1
		out[r+2] += s2
		out[r+3] += s3
	}
	for ; r < len(out); r++ {
		out[r] += dot(a, m[r*n:r*n+n])
	}
}

// validator scores the model on the validation set after each epoch.
type validator struct {
	samples []Sample
	y       []float64
	z, p    []float64
}

func newValidator(valid []Sample) *validator {
	v := &validator{samples: valid, y: make([]float64, len(valid)), z: make([]float64, len(valid)), p: make([]float64, len(valid))}
	for i, s := range valid {
		v.y[i] = label(s)
	}
	return v
}

// score returns the mean log-loss and the ROC AUC (0 when undefined) of
// the trainer's current model, computing the logits on the trainer's
// workers, each over its own contiguous share.
func (v *validator) score(t *trainer) (loss, auc float64) {
	nw := len(t.workers)
	shard := func(s int) {
		ws := t.workers[s].ws
		for i := s * len(v.samples) / nw; i < (s+1)*len(v.samples)/nw; i++ {
			v.z[i] = t.net.forward(v.samples[i].Image.Pix, ws)
		}
	}
	if nw == 1 {
		shard(0)
	} else {
		var wg sync.WaitGroup
		for s := range nw {
			wg.Go(func() { shard(s) })
		}
		wg.Wait()
	}
	for i, z := range v.z {
		loss += logLoss(z, v.y[i])
		v.p[i] = modelkit.Sigmoid(z)
	}
	if m, err := evaluate.Score(v.y, v.p, 0.5); err == nil {
		auc = m.ROCAUC
	}
	return loss / float64(len(v.z)), auc
}
