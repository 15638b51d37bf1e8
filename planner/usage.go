package planner

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/orchestrate-dev/orchestrate/specialists"
)

// The usage fields of task and job hashes. Costs are kept in nano-dollars
// so that HINCRBY adds them exactly, whatever the order of the calls.
const (
	fieldCalls        = "usage_calls"
	fieldCachedCalls  = "usage_cached"
	fieldInputTokens  = "usage_in"
	fieldOutputTokens = "usage_out"
	fieldCost         = "usage_cost_nusd"
	fieldBudget       = "budget_nusd"
)

func toNanoUSD(usd float64) int64 { return int64(math.Round(usd * 1e9)) }

func fromNanoUSD(n int64) float64 { return float64(n) / 1e9 }

// Meter returns the meter of one task: its calls are added to the task's
// and the job's usage, and the job's budget is checked before each.
func (l *Ledger) Meter(job, task string) specialists.Meter {
	return &meter{l: l, job: job, task: task}
}

type meter struct {
	l         *Ledger
	job, task string
}

func (m *meter) Allow(ctx context.Context) error {
	v, err := m.l.rdb.HMGet(ctx, m.l.keys.Job(m.job), fieldBudget, fieldCost).Result()
	if err != nil {
		return fmt.Errorf("read the budget of job %s: %w", m.job, err)
	}
	budget, spent := atoi64(str(v[0])), atoi64(str(v[1]))
	if budget > 0 && spent >= budget {
		return fmt.Errorf("%w: job %s has spent $%.4f of its $%.4f budget", specialists.ErrBudget, m.job, fromNanoUSD(spent), fromNanoUSD(budget))
	}
	return nil
}

func (m *meter) Record(ctx context.Context, u specialists.Usage) error {
	pipe := m.l.rdb.TxPipeline()
	for _, key := range []string{m.l.keys.Task(m.job, m.task), m.l.keys.Job(m.job)} {
		incr(ctx, pipe, key, fieldCalls, int64(u.Calls))
		incr(ctx, pipe, key, fieldCachedCalls, int64(u.CachedCalls))
		incr(ctx, pipe, key, fieldInputTokens, u.InputTokens)
		incr(ctx, pipe, key, fieldOutputTokens, u.OutputTokens)
		incr(ctx, pipe, key, fieldCost, toNanoUSD(u.CostUSD))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("record the usage of task %s of job %s: %w", m.task, m.job, err)
	}
	return nil
}

func incr(ctx context.Context, pipe redis.Pipeliner, key, field string, n int64) {
	if n != 0 {
		pipe.HIncrBy(ctx, key, field, n)
	}
}

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// usageOf reads the usage fields of a task or job hash; nil when nothing
// was used.
func usageOf(h map[string]string) *specialists.Usage {
	u := specialists.Usage{
		Calls: atoi(h[fieldCalls]), CachedCalls: atoi(h[fieldCachedCalls]),
		InputTokens: atoi64(h[fieldInputTokens]), OutputTokens: atoi64(h[fieldOutputTokens]),
		CostUSD: fromNanoUSD(atoi64(h[fieldCost])),
	}
	if u.IsZero() {
		return nil
	}
	return &u
}
