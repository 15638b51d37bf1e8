package gbdt

import (
	"errors"
	"fmt"
	"math"
	"runtime"
)

var (
	// ErrInvalidData is wrapped by Train's errors about its features or
	// labels: no rows, sizes that disagree, NaN features, labels other
	// than 0 and 1, or training labels of only one class.
	ErrInvalidData = errors.New("invalid training data")
	// ErrInvalidParams is wrapped by Train's errors about Params.
	ErrInvalidParams = errors.New("invalid parameters")
)

// maxDepth bounds Params.MaxDepth: deeper trees would hold more nodes
// than boosting ever benefits from.
const maxDepth = 12 // the ONNX export pads every tree to the deepest one; deeper trees would not export

// Params controls training. Each tree minimises the second-order
// approximation of the log-loss plus L2/2·Σ leaf value².
type Params struct {
	// Rounds is the most trees to grow. If zero, 300 is used.
	Rounds int
	// LearningRate shrinks every leaf value. If zero, 0.05 is used.
	LearningRate float64
	// MaxDepth is the depth of the deepest leaf, at most 12. If zero, 4
	// is used.
	MaxDepth int
	// MinSamplesLeaf is the fewest training rows a leaf may hold. If
	// zero, 20 is used.
	MinSamplesLeaf int
	// L2 is the penalty (lambda) on leaf values. If zero, 1 is used.
	L2 float64
	// RowSubsample is the fraction of training rows each tree sees,
	// drawn afresh per tree. If zero, 1 is used.
	RowSubsample float64
	// ColSubsample is the fraction of features each tree may split on,
	// drawn afresh per tree. If zero, 1 is used.
	ColSubsample float64
	// Bins is the most histogram bins per feature, from 2 to 256. If
	// zero, 255 is used.
	Bins int
	// EarlyStopping ends training once the validation log-loss has not
	// improved for this many rounds; it applies only when validation data
	// is given. If zero, 30 is used.
	EarlyStopping int
	// Workers is the number of goroutines. If zero, runtime.GOMAXPROCS(0)
	// is used. The model does not depend on it.
	Workers int
}

func (p Params) withDefaults() Params {
	if p.Rounds == 0 {
		p.Rounds = 300
	}
	if p.LearningRate == 0 {
		p.LearningRate = 0.05
	}
	if p.MaxDepth == 0 {
		p.MaxDepth = 4
	}
	if p.MinSamplesLeaf == 0 {
		p.MinSamplesLeaf = 20
	}
	if p.L2 == 0 {
		p.L2 = 1
	}
	if p.RowSubsample == 0 {
		p.RowSubsample = 1
	}
	if p.ColSubsample == 0 {
		p.ColSubsample = 1
	}
	if p.Bins == 0 {
		p.Bins = 255
	}
	if p.EarlyStopping == 0 {
		p.EarlyStopping = 30
	}
	if p.Workers == 0 {
		p.Workers = runtime.GOMAXPROCS(0)
	}
	return p
}

func (p Params) validate() error {
	fraction := func(f float64) bool { return f > 0 && f <= 1 }
	switch {
	case p.Rounds < 1:
		return fmt.Errorf("%w: Rounds is %d, want at least 1 (or zero for the default 300)", ErrInvalidParams, p.Rounds)
	case !(p.LearningRate > 0) || math.IsInf(p.LearningRate, 0):
		return fmt.Errorf("%w: LearningRate is %v, want a positive finite number (or zero for the default 0.05)", ErrInvalidParams, p.LearningRate)
	case p.MaxDepth < 1 || p.MaxDepth > maxDepth:
		return fmt.Errorf("%w: MaxDepth is %d, want 1 to %d (or zero for the default 4)", ErrInvalidParams, p.MaxDepth, maxDepth)
	case p.MinSamplesLeaf < 1:
		return fmt.Errorf("%w: MinSamplesLeaf is %d, want at least 1 (or zero for the default 20)", ErrInvalidParams, p.MinSamplesLeaf)
	case !(p.L2 > 0) || math.IsInf(p.L2, 0):
		return fmt.Errorf("%w: L2 is %v, want a positive finite number (or zero for the default 1)", ErrInvalidParams, p.L2)
	case !fraction(p.RowSubsample):
		return fmt.Errorf("%w: RowSubsample is %v, want a fraction in (0, 1] (or zero for the default 1)", ErrInvalidParams, p.RowSubsample)
	case !fraction(p.ColSubsample):
		return fmt.Errorf("%w: ColSubsample is %v, want a fraction in (0, 1] (or zero for the default 1)", ErrInvalidParams, p.ColSubsample)
	case p.Bins < 2 || p.Bins > 256:
		return fmt.Errorf("%w: Bins is %d, want 2 to 256 (or zero for the default 255)", ErrInvalidParams, p.Bins)
	case p.EarlyStopping < 1:
		return fmt.Errorf("%w: EarlyStopping is %d, want at least 1 (or zero for the default 30)", ErrInvalidParams, p.EarlyStopping)
	case p.Workers < 1:
		return fmt.Errorf("%w: Workers is %d, want at least 1 (or zero for GOMAXPROCS)", ErrInvalidParams, p.Workers)
	}
	return nil
}
