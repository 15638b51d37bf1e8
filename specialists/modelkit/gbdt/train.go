package gbdt

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
)

// Result is a trained ensemble and its validation history.
type Result struct {
	// Model holds the trees up to BestRound.
	Model *modelkit.Ensemble
	// BestRound is the number of trees kept: with validation data, the
	// round whose ensemble had the least validation log-loss (the first
	// such); without, every round grown.
	BestRound int
	// ValidLogLoss[r] is the mean validation log-loss of the first r
	// trees, ValidLogLoss[0] that of the base score alone; nil without
	// validation data. BestRound is its argmin.
	ValidLogLoss []float64
}

// Train fits an ensemble to features x and 0/1 labels y. Validation data
// xVal, yVal is optional (zero rows and nil labels for none); when given,
// training stops once its log-loss has not improved for
// p.EarlyStopping rounds and keeps the best prefix of trees. The same
// inputs and seed give the same model, whatever p.Workers. Errors wrap
// ErrInvalidData or ErrInvalidParams.
func Train(x modelkit.Matrix, y []float64, xVal modelkit.Matrix, yVal []float64, p Params, seed uint64) (*Result, error) {
	res, _, err := train(x, y, xVal, yVal, p, seed)
	return res, err
}

// train is Train that also returns the training rows' logits of every
// tree grown, computed on the binned data.
func train(x modelkit.Matrix, y []float64, xVal modelkit.Matrix, yVal []float64, p Params, seed uint64) (*Result, []float64, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return nil, nil, err
	}
	if err := checkData(x, y, "training"); err != nil {
		return nil, nil, err
	}
	hasVal := xVal.Rows > 0 || len(xVal.Data) > 0 || len(yVal) > 0
	if hasVal {
		if err := checkData(xVal, yVal, "validation"); err != nil {
			return nil, nil, err
		}
		if xVal.Cols != x.Cols {
			return nil, nil, fmt.Errorf("%w: validation has %d features, training %d", ErrInvalidData, xVal.Cols, x.Cols)
		}
	}
	pos := 0.0
	for _, v := range y {
		pos += v
	}
	if pos == 0 || pos == float64(len(y)) {
		return nil, nil, fmt.Errorf("%w: training labels are all %v; both classes are needed", ErrInvalidData, y[0])
	}
	rate := pos / float64(len(y))
	base := math.Log(rate / (1 - rate))

	q := newQuantizer(x, p.Bins, p.Workers)
	gr := newGrower(q.binMatrix(x, p.Workers), x.Rows, q, p)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := newSampler(x.Rows, x.Cols)

	model := &modelkit.Ensemble{Base: base}
	logit := filled(x.Rows, base)
	var valLogit, losses []float64
	best := 0
	if hasVal {
		valLogit = filled(xVal.Rows, base)
		losses = append(losses, logLoss(valLogit, yVal))
	}
	for round := 1; round <= p.Rounds; round++ {
		parallelRows(p.Workers, x.Rows, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				pr := modelkit.Sigmoid(logit[i])
				gr.gh[2*i] = pr - y[i]
				gr.gh[2*i+1] = pr * (1 - pr)
			}
		})
		rows := s.rows(rng, p.RowSubsample)
		feats := s.features(rng, p.ColSubsample)
		tree, bt := gr.grow(rows, feats)
		model.Trees = append(model.Trees, tree)
		parallelRows(p.Workers, x.Rows, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				logit[i] += bt.leafValue(gr.bins, x.Rows, i)
			}
		})
		if !hasVal {
			best = round
			continue
		}
		parallelRows(p.Workers, xVal.Rows, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				valLogit[i] += tree.Eval(xVal.Row(i))
			}
		})
		losses = append(losses, logLoss(valLogit, yVal))
		if losses[round] < losses[best] {
			best = round
		}
		if round-best >= p.EarlyStopping {
			break
		}
	}
	model.Trees = model.Trees[:best]
	return &Result{Model: model, BestRound: best, ValidLogLoss: losses}, logit, nil
}

// checkData reports what is wrong with a feature matrix and its labels.
func checkData(x modelkit.Matrix, y []float64, what string) error {
	switch {
	case x.Rows < 1 || x.Cols < 1:
		return fmt.Errorf("%w: %s features are %d×%d, want at least one row and one column", ErrInvalidData, what, x.Rows, x.Cols)
	case x.Rows > math.MaxInt32:
		return fmt.Errorf("%w: %s features have %d rows, want at most %d", ErrInvalidData, what, x.Rows, math.MaxInt32)
	case len(x.Data) != x.Rows*x.Cols:
		return fmt.Errorf("%w: %s features hold %d values, want %d×%d", ErrInvalidData, what, len(x.Data), x.Rows, x.Cols)
	case len(y) != x.Rows:
		return fmt.Errorf("%w: %d %s labels for %d rows", ErrInvalidData, len(y), what, x.Rows)
	}
	for k, v := range x.Data {
		if math.IsNaN(v) {
			return fmt.Errorf("%w: %s feature %d of row %d is NaN", ErrInvalidData, what, k%x.Cols, k/x.Cols)
		}
	}
	for i, v := range y {
		if v != 0 && v != 1 {
			return fmt.Errorf("%w: %s label %d is %v, want 0 or 1", ErrInvalidData, what, i, v)
		}
	}
	return nil
}

// logLoss returns the mean log-loss of logits z for labels y, summed in
// row order: log(1+e^z) − y·z, computed without overflow.
func logLoss(z, y []float64) float64 {
	sum := 0.0
	for i, v := range z {
		sum += max(v, 0) + math.Log1p(math.Exp(-math.Abs(v))) - y[i]*v
	}
	return sum / float64(len(z))
}

func filled(n int, v float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// sampler draws each tree's rows and features.
type sampler struct {
	rowPerm, featPerm []int32
}

func newSampler(rows, cols int) *sampler {
	s := &sampler{rowPerm: make([]int32, rows), featPerm: make([]int32, cols)}
	for i := range s.rowPerm {
		s.rowPerm[i] = int32(i)
	}
	for i := range s.featPerm {
		s.featPerm[i] = int32(i)
	}
	return s
}

// rows returns round(frac·n) rows, at least one, in ascending order.
func (s *sampler) rows(rng *rand.Rand, frac float64) []int32 {
	return draw(rng, s.rowPerm, frac)
}

// features returns round(frac·cols) features, at least one, ascending.
func (s *sampler) features(rng *rand.Rand, frac float64) []int {
	drawn := draw(rng, s.featPerm, frac)
	feats := make([]int, len(drawn))
	for i, f := range drawn {
		feats[i] = int(f)
	}
	return feats
}

// draw partially shuffles perm and returns its first round(frac·len)
// entries, sorted; with frac 1 it returns 0..len-1 untouched.
func draw(rng *rand.Rand, perm []int32, frac float64) []int32 {
	n := len(perm)
	k := max(1, int(math.Round(frac*float64(n))))
	if k >= n {
		all := make([]int32, n)
		for i := range all {
			all[i] = int32(i)
		}
		return all
	}
	for i := range k {
		j := i + rng.IntN(n-i)
		perm[i], perm[j] = perm[j], perm[i]
	}
	out := slices.Clone(perm[:k])
	slices.Sort(out)
	return out
}
