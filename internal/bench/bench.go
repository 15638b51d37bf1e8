// Package bench measures the cost of the orchestrate task lifecycle against
// bare JetStream, in one process and against the same servers, so that
// the ratio says what the ledger, artifacts, events and release add.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/workers"
)

// Options of a benchmark run. Zero values mean the defaults.
type Options struct {
	// Tasks per throughput phase; zero means 20,000.
	Tasks int
	// Concurrency of consumers and agents; zero means 256.
	Concurrency int
	// Rate of the paced latency phase in tasks per second; zero means 1000.
	Rate int
	// PacedTasks in the latency phase; zero means 3 seconds' worth.
	PacedTasks int
	// Rounds of the two throughput phases, run alternately so that both
	// see the same machine; zero means 3. Medians are reported.
	Rounds int
	Log    *zap.Logger
}

func (o Options) withDefaults() Options {
	if o.Tasks <= 0 {
		o.Tasks = 20000
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 256
	}
	if o.Rate <= 0 {
		o.Rate = 1000
	}
	if o.Rounds <= 0 {
		o.Rounds = 5
	}
	if o.PacedTasks <= 0 {
		o.PacedTasks = 3 * o.Rate
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	return o
}

// Result holds the figures of one run.
type Result struct {
	Tasks       int `json:"tasks"`
	Concurrency int `json:"concurrency"`
	Rounds      int `json:"rounds"`
	// Medians over the rounds; Ratio is the median of the rounds' ratios.
	RawPerSec  float64 `json:"raw_jetstream_tasks_per_s"`
	FullPerSec float64 `json:"lifecycle_tasks_per_s"`
	Ratio      float64 `json:"ratio"`
	// Each round's figures, in order.
	RoundsRaw      []float64 `json:"rounds_raw_tasks_per_s"`
	RoundsFull     []float64 `json:"rounds_lifecycle_tasks_per_s"`
	PacedRate      int       `json:"paced_rate_per_s"`
	PacedTasks     int       `json:"paced_tasks"`
	SubmitStartP50 float64   `json:"submit_to_start_p50_ms"`
	SubmitStartP99 float64   `json:"submit_to_start_p99_ms"`
	SubmitStartMax float64   `json:"submit_to_start_max_ms"`
}

// Run performs the three phases: raw JetStream throughput, lifecycle
// throughput, and paced submit-to-start latency.
func Run(ctx context.Context, st *stack.Stack, o Options, progress io.Writer) (*Result, error) {
	o = o.withDefaults()
	res := &Result{Tasks: o.Tasks, Concurrency: o.Concurrency, Rounds: o.Rounds, PacedRate: o.Rate, PacedTasks: o.PacedTasks}
	if err := st.Broker.EnsureTopology(ctx, []string{specialists.RoleDiag}); err != nil {
		return nil, err
	}

	var (
		mu     sync.Mutex
		starts = map[string]time.Time{}
	)
	pool, err := workers.NewPool(st.PoolDeps(o.Log), workers.Config{
		Roles: []string{specialists.RoleDiag}, MaxAgents: o.Concurrency, Prefetch: 2 * o.Concurrency,
		Name: "bench",
		OnStart: func(t *broker.Task, _ string) {
			now := time.Now()
			mu.Lock()
			starts[t.ID] = now
			mu.Unlock()
		},
	})
	if err != nil {
		return nil, err
	}
	if err := pool.Start(ctx); err != nil {
		return nil, err
	}
	defer pool.Shutdown(context.Background())

	var ratios []float64
	for round := 1; round <= o.Rounds; round++ {
		raw, err := rawThroughput(ctx, st.Broker, o)
		if err != nil {
			return nil, fmt.Errorf("raw phase: %w", err)
		}
		full, err := lifecycleThroughput(ctx, st, o.Tasks)
		if err != nil {
			return nil, fmt.Errorf("lifecycle phase: %w", err)
		}
		res.RoundsRaw = append(res.RoundsRaw, raw)
		res.RoundsFull = append(res.RoundsFull, full)
		ratios = append(ratios, full/raw)
		fmt.Fprintf(progress, "round %d of %d, %d tasks, %d in flight: raw jetstream %.0f/s, full lifecycle %.0f/s (%.0f%%)\n",
			round, o.Rounds, o.Tasks, o.Concurrency, raw, full, 100*full/raw)
	}
	res.RawPerSec, res.FullPerSec, res.Ratio = median(res.RoundsRaw), median(res.RoundsFull), median(ratios)

	fmt.Fprintf(progress, "paced latency: %d tasks at %d/s\n", o.PacedTasks, o.Rate)
	lat, err := pacedLatency(ctx, st, o, func(id string) (time.Time, bool) {
		mu.Lock()
		defer mu.Unlock()
		t, ok := starts[id]
		return t, ok
	})
	if err != nil {
		return nil, fmt.Errorf("latency phase: %w", err)
	}
	res.SubmitStartP50, res.SubmitStartP99, res.SubmitStartMax = ms(percentile(lat, 0.50)), ms(percentile(lat, 0.99)), ms(lat[len(lat)-1])
	fmt.Fprintf(progress, "  p50 %.3f ms, p99 %.3f ms\n", res.SubmitStartP50, res.SubmitStartP99)
	return res, nil
}

// rawThroughput publishes n messages to a work-queue stream like ORCH_TASKS
// and consumes and acks them with the same prefetch as the agents; the
// clock runs from the first publish to the last ack.
func rawThroughput(ctx context.Context, b *broker.Broker, o Options) (float64, error) {
	js := b.JetStream()
	const stream, subject = "BENCH_RAW", "bench.raw"
	_ = js.DeleteStream(ctx, stream)
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{subject}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Replicas: b.Config().Replicas,
	})
	if err != nil {
		return 0, err
	}
	defer func() { _ = js.DeleteStream(context.Background(), stream) }()
	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: b.Config().MaxAckPending,
	})
	if err != nil {
		return 0, err
	}
	var acked atomic.Int64
	done := make(chan struct{})
	it, err := c.Messages(jetstream.PullMaxMessages(2 * o.Concurrency))
	if err != nil {
		return 0, err
	}
	defer it.Stop()
	go func() {
		for {
			m, err := it.Next()
			if err != nil {
				return
			}
			_ = m.Ack()
			if acked.Add(1) == int64(o.Tasks) {
				close(done)
			}
		}
	}()
	payload := []byte(`{"v":1,"job":"bench","task":"t","role":"diag","skill":"noop","priority":"normal","gen":0}`)
	start := time.Now()
	for i := range o.Tasks {
		if _, err := js.PublishAsync(subject, payload, jetstream.WithMsgID(fmt.Sprintf("raw-%d", i))); err != nil {
			return 0, err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case <-done:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(5 * time.Minute):
		return 0, errors.New("raw consumers stalled")
	}
	return float64(o.Tasks) / time.Since(start).Seconds(), nil
}

// noopPlan is a job of n independent diag/noop subtasks.
func noopPlan(name string, n int) *planner.Plan {
	subs := make([]planner.Subtask, n)
	for i := range subs {
		subs[i] = planner.Subtask{ID: fmt.Sprintf("t%d", i), Title: "noop", Role: specialists.RoleDiag, Skill: "noop"}
	}
	return &planner.Plan{Name: name, Goal: "benchmark", Phases: []planner.Phase{{Name: "bench", Subtasks: subs}}}
}

// lifecycleThroughput submits one job of n noop tasks and waits until the
// job succeeded; the clock includes creating the job in the ledger.
func lifecycleThroughput(ctx context.Context, st *stack.Stack, n int) (float64, error) {
	start := time.Now()
	job, err := st.Submitter().Submit(ctx, noopPlan("bench", n))
	if err != nil {
		return 0, err
	}
	if err := waitSucceeded(ctx, st, job, 5*time.Minute); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// pacedLatency creates a job of PacedTasks tasks, then releases them one
// at a time at the given rate and measures each from its release (the
// publish) to the moment an agent starts executing it.
func pacedLatency(ctx context.Context, st *stack.Stack, o Options, started func(string) (time.Time, bool)) ([]time.Duration, error) {
	p := noopPlan("bench-paced", o.PacedTasks)
	job := planner.NewJobID(p.Name)
	tasks, deps := planner.Tasks(job, p)
	if err := st.Ledger.Create(ctx, job, p, tasks, deps, nil); err != nil {
		return nil, err
	}
	submitted := make([]time.Time, len(tasks))
	interval := time.Second / time.Duration(o.Rate)
	begin := time.Now()
	for i, t := range tasks {
		if d := time.Until(begin.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d) // pacing the load generator, not waiting for a result
		}
		submitted[i] = time.Now()
		if err := planner.Release(ctx, st.Broker, st.Ledger, job, tasks[i:i+1]); err != nil {
			return nil, fmt.Errorf("release %s: %w", t.ID, err)
		}
	}
	if err := waitSucceeded(ctx, st, job, 2*time.Minute); err != nil {
		return nil, err
	}
	lat := make([]time.Duration, 0, len(tasks))
	for i, t := range tasks {
		s, ok := started(t.ID)
		if !ok {
			return nil, fmt.Errorf("task %s has no start time", t.ID)
		}
		lat = append(lat, s.Sub(submitted[i]))
	}
	slices.Sort(lat)
	return lat, nil
}

func waitSucceeded(ctx context.Context, st *stack.Stack, job string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		js, err := st.Ledger.JobSummary(ctx, job)
		if err != nil {
			return err
		}
		if js.State == planner.JobSucceeded {
			return nil
		}
		if js.Done() {
			return fmt.Errorf("job %s %s", job, js.State)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("job %s not done after %s: %d of %d succeeded", job, timeout, js.Succeeded, js.Total)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
