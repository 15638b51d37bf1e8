package workers

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// claimAfter is how long a task runs before its agent claims it in the
// ledger (running, by whom, under a lease). Shorter tasks are recorded
// only when they end, which halves their Redis work; a redelivery that
// races one of them can run it twice, which its completion absorbs.
const claimAfter = 250 * time.Millisecond

// execution is one run of a task by an agent.
type execution struct {
	t         *broker.Task
	m         jetstream.Msg
	a         *agent
	delivered int
	run       planner.Run
	// abandoned says why the claim found the task no longer ours; the
	// execution was cancelled and its outcome is not recorded.
	abandoned atomicString
}

// process takes one delivered message through the task lifecycle: check
// it in the ledger, execute, then record artifacts, complete and release
// dependents in one step, and ack. Any step may be repeated after a
// crash; each is idempotent, so a redelivery changes nothing that was
// already done.
func (p *Pool) process(ctx context.Context, a *agent, m jetstream.Msg) {
	t, err := broker.DecodeTask(m.Data())
	if err != nil {
		p.deadLetterUndecodable(ctx, a, m, err)
		return
	}
	x := &execution{t: t, m: m, a: a, delivered: 1}
	if md, err := m.Metadata(); err == nil {
		x.delivered = int(md.NumDelivered)
		p.cfg.Observer.TaskPickedUp(t.Role, time.Since(md.Timestamp))
	}
	check, err := p.deps.Ledger.Check(ctx, t, a.id)
	if err != nil {
		p.log.Warn("check task", zap.String("task", t.ID), zap.Error(err))
		p.cfg.Observer.ServerError("redis")
		_ = m.NakWithDelay(retryDelay(x.delivered, p.cfg.RetryInitial, p.cfg.RetryMax))
		return
	}
	if !check.Run() {
		p.skip(ctx, x, check.Verdict)
		return
	}
	x.run = planner.Run{Worker: a.id, Started: time.Now(), Attempts: check.Attempts, Generation: t.Generation}
	a.begin(t)
	p.event(broker.Event{Job: t.Job, Task: t.ID, Role: t.Role, Kind: broker.EventRunning, Worker: a.id, Attempt: x.run.Attempts})
	if p.cfg.OnStart != nil {
		p.cfg.OnStart(t, a.id)
	}
	obs := p.cfg.Observer
	obs.TaskStarted(t.Role, t.Skill)
	outcome := OutcomeInterrupted
	defer func() { obs.TaskEnded(t.Role, t.Skill, outcome, time.Since(x.run.Started)) }()
	res, err := p.execute(ctx, x)
	if why := x.abandoned.Load(); why != "" {
		outcome = OutcomeAbandoned
		p.setIdle(ctx, a)
		p.skip(ctx, x, why)
		return
	}
	if err == nil {
		err = p.succeed(ctx, x, res)
		if err == nil {
			outcome = OutcomeSucceeded
			obs.ArtifactBytes(t.Role, resultBytes(res))
			return
		}
	}
	outcome = p.fail(ctx, x, err)
}

func resultBytes(res *specialists.Result) int {
	n := 0
	for _, f := range res.Files {
		n += len(f.Data)
	}
	return n
}

// skip handles a delivery that must not be executed (or whose execution
// was abandoned), for the reason the ledger gave.
func (p *Pool) skip(ctx context.Context, x *execution, verdict string) {
	t, m := x.t, x.m
	switch verdict {
	case "busy":
		// Another agent runs it under a live lease: this is a stale
		// delivery. Leave it to that agent's ack.
	case planner.StateSucceeded:
		// A redelivery after the task succeeded, perhaps before its
		// dependents were published: publish any still waiting.
		if err := p.releaseAgain(ctx, t); err != nil {
			p.log.Warn("re-release dependents", zap.String("task", t.ID), zap.Error(err))
			p.cfg.Observer.ServerError("nats")
			_ = m.NakWithDelay(retryDelay(x.delivered, p.cfg.RetryInitial, p.cfg.RetryMax))
			return
		}
		p.event(broker.Event{Job: t.Job, Task: t.ID, Role: t.Role, Kind: broker.EventSkipped, Worker: x.a.id, Summary: "already succeeded"})
		_ = m.Ack()
	case "missing":
		// No job's ledger knows the task: a forged or stray message, or
		// one whose job was deleted. It goes where people look for what
		// did not run, once.
		errText := fmt.Sprintf("task %s of job %s is in no job's ledger", t.ID, t.Job)
		if err := p.deps.Broker.DeadLetter(ctx, t.Role, m.Data(), t.Job, t.ID, errText, x.a.id, 0); err != nil {
			p.log.Warn("dead-letter", zap.String("task", t.ID), zap.Error(err))
			p.cfg.Observer.ServerError("nats")
			_ = m.NakWithDelay(retryDelay(x.delivered, p.cfg.RetryInitial, p.cfg.RetryMax))
			return
		}
		_ = m.Term()
	default:
		_ = m.Ack()
	}
}

// execute runs the skill with a timeout, claims the task once it runs
// longer than claimAfter, keeps the message and the lease alive while it
// runs long, and turns a panic into an error.
func (p *Pool) execute(ctx context.Context, x *execution) (res *specialists.Result, err error) {
	t := x.t
	skill, err := p.deps.Skills.Lookup(t.Role, t.Skill)
	if err != nil {
		return nil, specialists.Permanent(err)
	}
	timeout := p.cfg.TaskTimeout
	if t.Timeout > 0 {
		timeout = t.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	lease := p.deps.Broker.Config().AckWait
	keepAlive := time.AfterFunc(claimAfter, func() { p.claim(ctx, cancel, x, lease) })
	defer keepAlive.Stop()

	req := &specialists.Request{
		Job: t.Job, Task: t.ID, Role: t.Role, Skill: t.Skill, Title: t.Title,
		Instructions: t.Instructions, Params: t.Params, Inputs: t.Inputs,
		Attempt: x.run.Attempts, ScratchRoot: p.cfg.WorkDir, Artifacts: p.deps.Store, Env: p.cfg.Env,
		Meter: p.deps.Ledger.Meter(t.Job, t.ID),
	}
	defer func() {
		if err := req.Cleanup(); err != nil {
			p.log.Warn("remove scratch directory", zap.String("task", t.ID), zap.Error(err))
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("skill %s/%s panicked: %v\n%s", t.Role, t.Skill, r, debug.Stack())
		}
	}()
	res, err = skill(ctx, req)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("task timed out after %s: %w", timeout, err)
	}
	if err == nil && res == nil {
		res = &specialists.Result{}
	}
	return res, err
}

// claim runs while a task executes: first it records the task as running
// under this agent's lease, then every third of the lease it renews the
// lease and tells JetStream the task is in progress. If the ledger says
// the task is no longer this agent's to run, the execution is cancelled.
func (p *Pool) claim(ctx context.Context, cancel context.CancelFunc, x *execution, lease time.Duration) {
	c, err := p.deps.Ledger.Claim(ctx, x.t, x.a.id, lease, x.run.Attempts)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("claim task", zap.String("task", x.t.ID), zap.Error(err))
			p.cfg.Observer.ServerError("redis")
		}
	} else if !c.Run() {
		x.abandoned.Store(c.Verdict)
		cancel()
		return
	}
	x.a.show(x.t)
	tick := time.NewTicker(lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			_ = x.m.InProgress()
			_ = p.deps.Ledger.Extend(ctx, x.t.Job, x.t.ID, x.a.id, lease)
		}
	}
}

// succeed records the artifacts, completes the task in the ledger,
// publishes the dependents it released and acks the message.
func (p *Pool) succeed(ctx context.Context, x *execution, res *specialists.Result) error {
	t, a, m := x.t, x.a, x.m
	rec, err := p.deps.Store.Prepare(t.Job, t.ID, res.Files)
	if err != nil {
		return specialists.Permanent(err)
	}
	// One round trip records the artifacts, completes the task and
	// releases its dependents.
	done, err := p.deps.Ledger.Complete(ctx, t.Job, t.ID, res.Summary, planner.CompleteOptions{
		Run: x.run, Artifacts: rec, After: a.finished(ctx),
	})
	if err != nil {
		if errors.Is(err, artifacts.ErrConflict) {
			return specialists.Permanent(err)
		}
		return err
	}
	if done.Stale {
		_ = m.Ack()
		return nil
	}
	if done.First {
		p.event(broker.Event{Job: t.Job, Kind: broker.EventSucceeded, Task: t.ID, Role: t.Role, Worker: a.id, Summary: res.Summary})
	}
	if err := p.release(ctx, t.Job, done.Ready); err != nil {
		// The task succeeded; only its dependents' publication is
		// missing. A redelivery finds the task succeeded and publishes
		// the dependents still ready.
		p.log.Error("publish released dependents", zap.String("job", t.Job), zap.String("task", t.ID), zap.Error(err))
		p.cfg.Observer.ServerError("nats")
		_ = m.NakWithDelay(retryDelay(x.delivered, p.cfg.RetryInitial, p.cfg.RetryMax))
		return nil
	}
	if done.JobDone {
		p.event(broker.Event{Job: t.Job, Kind: broker.EventJobSucceeded, Worker: a.id})
	}
	_ = m.Ack()
	return nil
}

func (p *Pool) releaseAgain(ctx context.Context, t *broker.Task) error {
	done, err := p.deps.Ledger.Complete(ctx, t.Job, t.ID, "", planner.CompleteOptions{})
	if err != nil {
		return err
	}
	return p.release(ctx, t.Job, done.Ready)
}

// release publishes released dependents, retrying a failed publication a
// few times with backoff: the completion that released them is already
// recorded and cannot be undone.
func (p *Pool) release(ctx context.Context, job string, ready []*broker.Task) error {
	if len(ready) == 0 {
		return nil
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = 100*time.Millisecond, 2*time.Second, 10*time.Second
	return backoff.Retry(func() error {
		return planner.Release(ctx, p.deps.Broker, p.deps.Ledger, job, ready)
	}, backoff.WithContext(b, ctx))
}

// fail decides between handing the task back (shutdown), retrying it with
// backoff, and dead-lettering it, and returns which it did.
func (p *Pool) fail(ctx context.Context, x *execution, cause error) string {
	t, a, m := x.t, x.a, x.m
	bg := context.WithoutCancel(ctx)
	if ctx.Err() != nil {
		// Shutdown cancelled the task: not its fault; another agent
		// takes it from the start.
		_ = p.deps.Ledger.Retry(bg, t.Job, t.ID, "interrupted by worker shutdown", x.run)
		p.setIdle(bg, a)
		_ = m.Nak()
		return OutcomeInterrupted
	}
	errText := cause.Error()
	attempts := x.run.Attempts
	maxDeliver := p.deps.Broker.MaxDeliver(t.Role)
	if !specialists.IsPermanent(cause) && x.delivered < maxDeliver {
		delay := retryDelay(x.delivered, p.cfg.RetryInitial, p.cfg.RetryMax)
		if err := p.deps.Ledger.Retry(ctx, t.Job, t.ID, errText, x.run); err != nil {
			p.log.Warn("record retry", zap.String("task", t.ID), zap.Error(err))
			p.cfg.Observer.ServerError("redis")
		}
		p.setIdle(ctx, a)
		p.event(broker.Event{Job: t.Job, Task: t.ID, Role: t.Role, Kind: broker.EventRetrying, Worker: a.id, Attempt: attempts, Error: errText})
		p.log.Info("task failed, will retry", zap.String("job", t.Job), zap.String("task", t.ID), zap.Int("delivery", x.delivered), zap.Duration("delay", delay), zap.Error(cause))
		_ = m.NakWithDelay(delay)
		return OutcomeRetried
	}
	if err := p.deps.Broker.DeadLetter(ctx, t.Role, m.Data(), t.Job, t.ID, errText, a.id, attempts); err != nil {
		p.log.Warn("dead-letter", zap.String("task", t.ID), zap.Error(err))
		p.cfg.Observer.ServerError("nats")
		_ = m.NakWithDelay(retryDelay(x.delivered, p.cfg.RetryInitial, p.cfg.RetryMax))
		return OutcomeRetried
	}
	dead, err := p.deps.Ledger.Dead(ctx, t.Job, t.ID, errText, x.run)
	if err != nil {
		p.log.Warn("record death", zap.String("task", t.ID), zap.Error(err))
		p.cfg.Observer.ServerError("redis")
	}
	p.setIdle(ctx, a)
	p.log.Warn("task dead", zap.String("job", t.Job), zap.String("task", t.ID), zap.Int("attempts", attempts), zap.Error(cause))
	p.event(broker.Event{Job: t.Job, Task: t.ID, Role: t.Role, Kind: broker.EventDead, Worker: a.id, Attempt: attempts, Error: errText})
	for _, b := range dead.Blocked {
		p.event(broker.Event{Job: t.Job, Task: b, Kind: broker.EventBlocked, Error: "upstream task " + t.ID + " is dead"})
	}
	if dead.JobFailed {
		p.event(broker.Event{Job: t.Job, Kind: broker.EventJobFailed, Error: fmt.Sprintf("task %s: %s", t.ID, errText)})
	}
	_ = m.Term()
	return OutcomeDead
}

// deadLetterUndecodable moves a message that is not a task to the
// dead-letter stream: no retry can make it valid.
func (p *Pool) deadLetterUndecodable(ctx context.Context, a *agent, m jetstream.Msg, cause error) {
	role := "unknown"
	if md, err := m.Metadata(); err == nil {
		role = roleOfSubject(md.Stream, m.Subject())
	}
	if err := p.deps.Broker.DeadLetter(ctx, role, m.Data(), "", "", cause.Error(), a.id, 1); err != nil {
		p.log.Warn("dead-letter undecodable message", zap.Error(err))
		p.cfg.Observer.ServerError("nats")
		_ = m.NakWithDelay(p.cfg.RetryMax)
		return
	}
	p.log.Warn("undecodable task message dead-lettered", zap.String("subject", m.Subject()), zap.Error(cause))
	_ = m.Term()
}

// roleOfSubject extracts <role> from orch.tasks.<role>.<priority>.
func roleOfSubject(_ string, subject string) string {
	const prefix = "orch.tasks."
	if len(subject) <= len(prefix) {
		return "unknown"
	}
	rest := subject[len(prefix):]
	for i := len(rest) - 1; i >= 0; i-- {
		if rest[i] == '.' {
			return rest[:i]
		}
	}
	return rest
}

func (p *Pool) setIdle(ctx context.Context, a *agent) {
	if update := a.end(ctx, false); update != nil {
		pipe := p.rdb.Pipeline()
		update(pipe)
		_, _ = pipe.Exec(ctx)
	}
}

// atomicString is a string set from the claim goroutine and read after
// the execution.
type atomicString struct{ v atomic.Pointer[string] }

func (s *atomicString) Store(v string) { s.v.Store(&v) }
func (s *atomicString) Load() string {
	if p := s.v.Load(); p != nil {
		return *p
	}
	return ""
}

func (p *Pool) event(e broker.Event) {
	if err := p.deps.Broker.PublishEvent(e); err != nil {
		p.log.Warn("publish event", zap.String("kind", e.Kind), zap.Error(err))
		p.cfg.Observer.ServerError("nats")
	}
}
