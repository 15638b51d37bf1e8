package mlp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
)

var (
	// ErrInvalidData is wrapped by Train's errors about its features or
	// labels: no rows, sizes that disagree, values that are not finite,
	// labels other than 0 and 1, or training labels of only one class.
	ErrInvalidData = errors.New("invalid training data")
	// ErrInvalidParams is wrapped by Train's errors about Params.
	ErrInvalidParams = errors.New("invalid parameters")
	// ErrDiverged is returned when no epoch ends with a finite validation
	// log-loss, usually because LearningRate is too large.
	ErrDiverged = errors.New("training diverged")
)

// Params controls training. Each mini-batch step minimises
//
//	mean log-loss over the batch + L2/2·Σ‖W‖²
//
// over every layer's weights W; biases are not penalised.
type Params struct {
	// Hidden holds the widths of the one or two hidden layers. If empty,
	// [32, 16] is used.
	Hidden []int
	// LearningRate is Adam's step size. If zero, 1e-3 is used.
	LearningRate float64
	// L2 is the penalty strength. If zero, 1e-4 is used.
	L2 float64
	// BatchSize is the number of rows per step; the last batch of an epoch
	// may be smaller. If zero, 64 is used.
	BatchSize int
	// Epochs caps the passes over the training rows. If zero, 200 is used.
	Epochs int
	// Patience ends training after this many epochs without a lower
	// validation log-loss. If zero, 10 is used.
	Patience int
}

func (p Params) withDefaults() Params {
	if len(p.Hidden) == 0 {
		p.Hidden = []int{32, 16}
	}
	if p.LearningRate == 0 {
		p.LearningRate = 1e-3
	}
	if p.L2 == 0 {
		p.L2 = 1e-4
	}
	if p.BatchSize == 0 {
		p.BatchSize = 64
	}
	if p.Epochs == 0 {
		p.Epochs = 200
	}
	if p.Patience == 0 {
		p.Patience = 10
	}
	return p
}

func (p Params) validate() error {
	if len(p.Hidden) > 2 {
		return fmt.Errorf("%w: %d hidden layers, want 1 or 2", ErrInvalidParams, len(p.Hidden))
	}
	for i, h := range p.Hidden {
		if h < 1 {
			return fmt.Errorf("%w: hidden layer %d has width %d, want at least 1", ErrInvalidParams, i, h)
		}
	}
	switch {
	case !(p.LearningRate > 0) || math.IsInf(p.LearningRate, 0):
		return fmt.Errorf("%w: LearningRate is %v, want a positive finite number (or zero for the default 1e-3)", ErrInvalidParams, p.LearningRate)
	case !(p.L2 > 0) || math.IsInf(p.L2, 0):
		return fmt.Errorf("%w: L2 is %v, want a positive finite number (or zero for the default 1e-4)", ErrInvalidParams, p.L2)
	case p.BatchSize < 1:
		return fmt.Errorf("%w: BatchSize is %d, want at least 1 (or zero for the default 64)", ErrInvalidParams, p.BatchSize)
	case p.Epochs < 1:
		return fmt.Errorf("%w: Epochs is %d, want at least 1 (or zero for the default 200)", ErrInvalidParams, p.Epochs)
	case p.Patience < 1:
		return fmt.Errorf("%w: Patience is %d, want at least 1 (or zero for the default 10)", ErrInvalidParams, p.Patience)
	}
	return nil
}

// Result is a trained model and its training history.
type Result struct {
	// Model holds the weights after epoch BestEpoch.
	Model *modelkit.MLP
	// BestEpoch counts from 1; its validation log-loss is
	// ValidLogLoss[BestEpoch-1], the lowest of all.
	BestEpoch int
	// ValidLogLoss holds the validation log-loss after each epoch run.
	ValidLogLoss []float64
}

// Train fits an MLP to rows x with labels y (each 0 or 1), stopping early
// on the log-loss over xVal and yVal, and starting from the random source
// seeded by seed. It returns an error wrapping ErrInvalidData or
// ErrInvalidParams when the input cannot be trained on, ErrDiverged when
// no epoch gave a finite validation log-loss, and never panics.
func Train(x modelkit.Matrix, y []float64, xVal modelkit.Matrix, yVal []float64, p Params, seed uint64) (*Result, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("train MLP: %w", err)
	}
	if err := checkData("training", x, y, true); err != nil {
		return nil, fmt.Errorf("train MLP: %w", err)
	}
	if err := checkData("validation", xVal, yVal, false); err != nil {
		return nil, fmt.Errorf("train MLP: %w", err)
	}
	if xVal.Cols != x.Cols {
		return nil, fmt.Errorf("train MLP: %w: %d validation columns for %d training columns", ErrInvalidData, xVal.Cols, x.Cols)
	}

	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	tr := newTrainer(x, y, p, rng)
	best := cloneMLP(tr.net)
	res := &Result{Model: best}
	bestLoss := math.Inf(1)
	for epoch := 1; epoch <= p.Epochs; epoch++ {
		tr.epoch()
		loss := logLoss(tr.net, xVal, yVal, tr.acts)
		res.ValidLogLoss = append(res.ValidLogLoss, loss)
		if loss < bestLoss {
			bestLoss, res.BestEpoch = loss, epoch
			copyMLP(best, tr.net)
		}
		if epoch-res.BestEpoch >= p.Patience {
			break
		}
	}
	if res.BestEpoch == 0 {
		return nil, fmt.Errorf("train MLP: %w: the validation log-loss was never finite (try a smaller LearningRate)", ErrDiverged)
	}
	return res, nil
}

func checkData(set string, x modelkit.Matrix, y []float64, bothClasses bool) error {
	if x.Rows < 1 || x.Cols < 1 {
		return fmt.Errorf("%w: the %s matrix is %d×%d, want at least one row and one column", ErrInvalidData, set, x.Rows, x.Cols)
	}
	if len(x.Data) != x.Rows*x.Cols {
		return fmt.Errorf("%w: the %d×%d %s matrix holds %d values", ErrInvalidData, x.Rows, x.Cols, set, len(x.Data))
	}
	if len(y) != x.Rows {
		return fmt.Errorf("%w: %d %s labels for %d rows", ErrInvalidData, len(y), set, x.Rows)
	}
	for i, v := range x.Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: %s row %d column %d is %v", ErrInvalidData, set, i/x.Cols, i%x.Cols, v)
		}
	}
	positives := 0
	for i, v := range y {
		if v != 0 && v != 1 {
			return fmt.Errorf("%w: %s label %d is %v, want 0 or 1", ErrInvalidData, set, i, v)
		}
		positives += int(v)
	}
	if bothClasses && (positives == 0 || positives == len(y)) {
		return fmt.Errorf("%w: every %s label is %v; both classes are needed", ErrInvalidData, set, y[0])
	}
	return nil
}
