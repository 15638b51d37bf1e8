package specialists

import (
	"context"
	"errors"
)

// Usage is what model calls cost: of one call, one task or one job.
type Usage struct {
	// Calls counts the calls made to a model; CachedCalls those answered
	// from the response cache, which cost nothing.
	Calls       int   `json:"calls"`
	CachedCalls int   `json:"cached_calls"`
	InputTokens int64 `json:"input_tokens"`
	// OutputTokens are the tokens the model generated.
	OutputTokens int64 `json:"output_tokens"`
	// CostUSD is estimated from the price table; a model without a price
	// (a local server) costs nothing.
	CostUSD float64 `json:"cost_usd"`
}

// Add returns the sum of u and v.
func (u Usage) Add(v Usage) Usage {
	return Usage{Calls: u.Calls + v.Calls, CachedCalls: u.CachedCalls + v.CachedCalls,
		InputTokens: u.InputTokens + v.InputTokens, OutputTokens: u.OutputTokens + v.OutputTokens,
		CostUSD: u.CostUSD + v.CostUSD}
}

// IsZero reports whether nothing was used.
func (u Usage) IsZero() bool { return u == Usage{} }

// ErrBudget is wrapped by the error of a task stopped because a budget,
// its own or its job's, is spent. Such a failure is permanent: a retry
// would spend more of what is not there.
var ErrBudget = errors.New("budget exhausted")

// Meter accounts for a task's model calls and holds it to its job's
// budget. Workers give each request one; a nil Meter accounts for nothing.
type Meter interface {
	// Allow returns an error wrapping ErrBudget when the job has spent its
	// budget; a skill asks before each call it would pay for.
	Allow(ctx context.Context) error
	// Record adds the usage of one call to the task and its job.
	Record(ctx context.Context, u Usage) error
}
