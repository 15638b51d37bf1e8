package planner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/coalesce"
	"github.com/orchestrate-dev/orchestrate/internal/keys"
)

// ErrNoJob is returned when a job id is not in the ledger.
var ErrNoJob = errors.New("no such job")

// Ledger keeps the state of jobs and tasks in Redis. Every transition that
// touches more than one key is a Lua script, so concurrent agents on many
// hosts see consistent counts.
type Ledger struct {
	rdb  redis.UniversalClient
	keys keys.Space
	// hot coalesces the agents' per-task round trips (Check, Claim).
	hot *coalesce.Pipeliner
	// completions batches the agents' completions into one script call
	// each; nil on Redis Cluster, where one call cannot span jobs.
	completions *coalesce.Batcher[*completion]
}

// NewLedger returns a ledger under a key prefix ("" means keys.DefaultPrefix).
func NewLedger(rdb redis.UniversalClient, prefix string) *Ledger {
	l := &Ledger{rdb: rdb, keys: keys.New(prefix), hot: coalesce.New(rdb, 4, 256)}
	if _, cluster := rdb.(*redis.ClusterClient); !cluster {
		l.completions = coalesce.NewBatcher(4, 128, l.sendCompletions)
	}
	return l
}

// completion is one task's completion waiting to be sent in a batch.
type completion struct {
	keys          []string
	args          []any
	before, after func(redis.Pipeliner)
	reply         []any
	err           error
}

// sendCompletions sends a batch of completions as one call of
// completeBatchScript, with every completion's commands before and after
// it in the same pipeline, and hands each its reply.
func (l *Ledger) sendCompletions(ctx context.Context, batch []*completion) {
	keys := make([]string, 0, 3*len(batch))
	args := []any{len(batch)}
	for _, c := range batch {
		keys = append(keys, c.keys...)
		args = append(args, len(c.args))
		args = append(args, c.args...)
	}
	for try := 0; ; try++ {
		pipe := l.rdb.Pipeline()
		for _, c := range batch {
			if c.before != nil {
				c.before(pipe)
			}
		}
		cmd := completeBatchScript.EvalSha(ctx, pipe, keys, args...)
		for _, c := range batch {
			if c.after != nil {
				c.after(pipe)
			}
		}
		_, _ = pipe.Exec(ctx)
		replies, err := cmd.Slice()
		if err != nil && try == 0 && isNoScript(err) {
			if err = completeBatchScript.Load(ctx, l.rdb).Err(); err == nil {
				continue // nothing ran: the script was unknown
			}
		}
		if err == nil && len(replies) != len(batch) {
			err = fmt.Errorf("completion batch of %d got %d replies", len(batch), len(replies))
		}
		for i, c := range batch {
			if err != nil {
				c.err = err
				continue
			}
			r, _ := replies[i].([]any)
			if len(r) >= 2 && r[0] == int64(-3) {
				msg, _ := r[1].(string)
				c.err = errors.New(msg)
				continue
			}
			c.reply = r
		}
		return
	}
}

// Keys is the key space of the ledger.
func (l *Ledger) Keys() keys.Space { return l.keys }

// Also adds commands to the pipeline of a ledger call, so that callers can
// piggyback their own writes (an agent's heartbeat) on the same round trip.
type Also func(redis.Pipeliner)

// createChunk bounds the commands of one pipeline when creating large jobs.
const createChunk = 512

// Create writes a job and its tasks. After each chunk of tasks is written,
// release (when not nil) is called with the chunk's tasks that wait for
// nothing, so that workers start on a large job while the rest of it is
// written; release must publish them, and they are written as queued
// already (when release is nil, as ready). The job's hash comes first, with
// its final counts, so that completions are counted from the start. If
// writing fails half-way the job is marked failed with the reason.
func (l *Ledger) Create(ctx context.Context, job string, p *Plan, tasks []*broker.Task, deps map[string][]string, release func([]*broker.Task) error) error {
	now := nowMS()
	planJSON, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("create job %s: encode plan: %w", job, err)
	}
	pipe := l.rdb.TxPipeline()
	pipe.Set(ctx, l.keys.JobPlan(job), planJSON, 0)
	pipe.HSet(ctx, l.keys.Job(job),
		"name", p.Name, "goal", p.Goal, "state", JobRunning,
		"created_ms", now, "updated_ms", now, "total", len(tasks), "remaining", len(tasks), "dead", 0,
		fieldBudget, toNanoUSD(p.BudgetUSD))
	pipe.ZAdd(ctx, l.keys.Jobs(), redis.Z{Score: float64(now), Member: job})
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("create job %s: %w", job, err)
	}
	if err := l.createTasks(ctx, job, tasks, deps, now, release); err != nil {
		l.Fail(context.WithoutCancel(ctx), job, err)
		return err
	}
	return nil
}

// Fail marks a job failed for a reason outside its tasks, such as a
// submission interrupted half-way.
func (l *Ledger) Fail(ctx context.Context, job string, cause error) {
	l.rdb.HSet(ctx, l.keys.Job(job), "state", JobFailed, "error", cause.Error(), "finished_ms", nowMS())
}

func (l *Ledger) createTasks(ctx context.Context, job string, tasks []*broker.Task, deps map[string][]string, now int64, release func([]*broker.Task) error) error {
	dependents := map[string][]string{}
	for id, ds := range deps {
		for _, d := range ds {
			dependents[d] = append(dependents[d], id)
		}
	}
	// Every task that waits for another is written before any root is
	// published, so that no completion can reach a dependent that is not
	// in the ledger yet.
	for start := 0; start < len(tasks); start += createChunk {
		ids := make([]any, 0, createChunk)
		for _, t := range tasks[start:min(start+createChunk, len(tasks))] {
			ids = append(ids, t.ID)
		}
		if err := l.rdb.RPush(ctx, l.keys.Tasks(job), ids...).Err(); err != nil {
			return fmt.Errorf("create job %s: list tasks: %w", job, err)
		}
	}
	var waiting, roots []*broker.Task
	for _, t := range tasks {
		if len(deps[t.ID]) > 0 {
			waiting = append(waiting, t)
		} else {
			roots = append(roots, t)
		}
	}
	for _, part := range [][]*broker.Task{waiting, roots} {
		for start := 0; start < len(part); start += createChunk {
			chunk := part[start:min(start+createChunk, len(part))]
			pipe := l.rdb.Pipeline()
			for _, t := range chunk {
				msg, err := t.Encode()
				if err != nil {
					return fmt.Errorf("create job %s: encode task %s: %w", job, t.ID, err)
				}
				state := StatePending
				if len(deps[t.ID]) == 0 {
					state = StateReady
					if release != nil {
						state = StateQueued
					}
				}
				// Role, skill and title are read from msg: the hash
				// holds only what changes.
				pipe.HSet(ctx, l.keys.Task(job, t.ID),
					"state", state, "deps_left", len(deps[t.ID]), "attempts", 0, "gen", t.Generation,
					"created_ms", now, "msg", msg, "dependents", strings.Join(dependents[t.ID], ","))
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return fmt.Errorf("create job %s: write tasks: %w", job, err)
			}
			if release != nil && len(deps[chunk[0].ID]) == 0 {
				if err := release(chunk); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// CheckResult says whether an agent should execute a delivered task.
type CheckResult struct {
	// Verdict is "run", "busy" (another agent holds the lease), or why
	// not: "missing", "stale", "waiting", "succeeded", "dead", "blocked".
	Verdict string
	// Attempts counts the executions of the task so far, this one
	// included; for "busy", the milliseconds left on the other lease.
	Attempts int
}

// Run reports whether the task should be executed.
func (r CheckResult) Run() bool { return r.Verdict == "run" }

// Check says whether worker should execute a delivered task, without
// writing anything: a task already succeeded, dead or blocked, an older
// generation, a task whose dependencies are not met, and a task another
// agent runs under a live lease are not executed. What an agent runs is
// written by Claim, for tasks that run long enough for it to matter, and
// by Complete, Retry and Dead.
func (l *Ledger) Check(ctx context.Context, t *broker.Task, worker string) (CheckResult, error) {
	var cmd *redis.SliceCmd
	l.hot.Do(ctx, func(pipe redis.Pipeliner) {
		cmd = pipe.HMGet(ctx, l.keys.Task(t.Job, t.ID), "state", "gen", "deps_left", "worker", "lease_ms", "attempts")
	})
	f, err := cmd.Result()
	if err != nil {
		return CheckResult{}, fmt.Errorf("check task %s of job %s: %w", t.ID, t.Job, err)
	}
	str := func(i int) string { s, _ := f[i].(string); return s }
	state := str(0)
	switch {
	case state == "":
		return CheckResult{Verdict: "missing"}, nil
	case t.Generation < atoi(str(1)):
		return CheckResult{Verdict: "stale"}, nil
	case state == StateSucceeded || state == StateDead || state == StateBlocked:
		return CheckResult{Verdict: state}, nil
	case atoi(str(2)) > 0:
		return CheckResult{Verdict: "waiting"}, nil
	}
	if state == StateRunning && str(3) != worker {
		if left := int64(atoi(str(4))) - nowMS(); left > 0 {
			return CheckResult{Verdict: "busy", Attempts: int(left)}, nil
		}
	}
	return CheckResult{Verdict: "run", Attempts: atoi(str(5)) + 1}, nil
}

// Claim marks a task running under worker's lease, which keeps other
// agents from running it at the same time until it expires or is renewed.
// attempts is the count Check returned.
func (l *Ledger) Claim(ctx context.Context, t *broker.Task, worker string, lease time.Duration, attempts int) (CheckResult, error) {
	var cmd *redis.Cmd
	err := l.hotPath(ctx, func(pipe redis.Pipeliner) {
		cmd = startScript.EvalSha(ctx, pipe, []string{l.keys.Task(t.Job, t.ID)}, worker, nowMS(), t.Generation, lease.Milliseconds(), attempts)
	}, func() error { return cmd.Err() }, startScript)
	if err != nil {
		return CheckResult{}, fmt.Errorf("claim task %s of job %s: %w", t.ID, t.Job, err)
	}
	vals, err := cmd.Slice()
	if err != nil || len(vals) != 2 {
		return CheckResult{}, fmt.Errorf("claim task %s of job %s: unexpected reply %v: %v", t.ID, t.Job, vals, err)
	}
	verdict, _ := vals[0].(string)
	n, _ := vals[1].(int64)
	return CheckResult{Verdict: verdict, Attempts: int(n)}, nil
}

// Extend renews worker's lease on a running task.
func (l *Ledger) Extend(ctx context.Context, job, task, worker string, lease time.Duration) error {
	err := extendScript.Run(ctx, l.rdb, []string{l.keys.Task(job, task)}, worker, time.Now().Add(lease).UnixMilli()).Err()
	if err != nil {
		return fmt.Errorf("extend lease on task %s of job %s: %w", task, job, err)
	}
	return nil
}

// complete runs one completion, batched with other agents' when the
// ledger batches, and returns the script's reply.
func (l *Ledger) complete(ctx context.Context, keys []string, args []any, before, after func(redis.Pipeliner)) ([]any, error) {
	if l.completions != nil {
		c := &completion{keys: keys, args: args, before: before, after: after}
		l.completions.Do(ctx, c)
		return c.reply, c.err
	}
	var cmd *redis.Cmd
	err := l.hotPath(ctx, func(pipe redis.Pipeliner) {
		if before != nil {
			before(pipe)
		}
		cmd = completeScript.EvalSha(ctx, pipe, keys, args...)
		if after != nil {
			after(pipe)
		}
	}, func() error { return cmd.Err() }, completeScript)
	if err != nil {
		return nil, err
	}
	return cmd.Slice()
}

// CompleteResult is what a completion released.
type CompleteResult struct {
	// First is false when the task had already succeeded (a redelivery).
	First bool
	// JobDone is true when this completion finished the job.
	JobDone bool
	// Ready are dependents whose last dependency this was (or that an
	// earlier completion released but nobody published); publish them and
	// call MarkQueued.
	Ready []*broker.Task
	// Entries are the recorded artifacts, as the index holds them.
	Entries []artifacts.Entry
	// Stale is true when the task was put back with a newer generation
	// (replayed) while this execution ran; nothing changed.
	Stale bool
}

// Run describes one execution of a task, for the ledger's record.
type Run struct {
	Worker     string
	Started    time.Time
	Attempts   int
	Generation int
}

// CompleteOptions add work to the round trip of a completion.
type CompleteOptions struct {
	// Run describes the execution that completed the task.
	Run Run
	// Artifacts are recorded in the same atomic step as the completion:
	// if the index refuses them, the task is left as it was. Nil records
	// nothing.
	Artifacts *artifacts.Recording
	// After queues commands that run after it, such as the agent's
	// heartbeat.
	After Also
}

// Complete records the task's artifacts, marks it succeeded and releases
// its dependents. A refused artifact is an error wrapping
// artifacts.ErrConflict, and changes nothing.
func (l *Ledger) Complete(ctx context.Context, job, task, summary string, opts CompleteOptions) (CompleteResult, error) {
	rec := opts.Artifacts
	keys := []string{l.keys.Task(job, task), l.keys.Job(job), l.keys.Files(job)}
	r := opts.Run
	args := []any{l.keys.JobBase(job), nowMS(), summary, r.Worker, r.Started.UnixMilli(), r.Attempts, r.Generation, task, 0}
	if rec != nil {
		if err := rec.WriteBlobs(ctx); err != nil {
			return CompleteResult{}, err
		}
		args = append(args[:7], rec.IndexArgs()...)
	}
	var before func(redis.Pipeliner)
	if rec != nil {
		before = func(pipe redis.Pipeliner) { rec.QueueBlobs(ctx, pipe) }
	}
	vals, err := l.complete(ctx, keys, args, before, opts.After)
	if err != nil {
		return CompleteResult{}, fmt.Errorf("complete task %s of job %s: %w", task, job, err)
	}
	if len(vals) < 3 {
		return CompleteResult{}, fmt.Errorf("complete task %s of job %s: unexpected reply %v", task, job, vals)
	}
	first, _ := vals[0].(int64)
	k, _ := vals[2].(int64)
	if int(k) > len(vals)-3 {
		return CompleteResult{}, fmt.Errorf("complete task %s of job %s: unexpected reply %v", task, job, vals)
	}
	res := CompleteResult{First: first == 1, JobDone: vals[1] == int64(1)}
	if rec != nil && k > 0 {
		reply := make([]string, k)
		for i := range reply {
			reply[i], _ = vals[3+i].(string)
		}
		res.Entries, err = rec.Apply(reply)
		if err != nil {
			return CompleteResult{}, err
		}
	}
	switch first {
	case -1:
		return CompleteResult{}, fmt.Errorf("complete task %s of job %s: artifacts refused", task, job)
	case -2:
		return CompleteResult{Stale: true}, nil
	}
	for _, v := range vals[3+k:] {
		s, _ := v.(string)
		t, err := broker.DecodeTask([]byte(s))
		if err != nil {
			return res, fmt.Errorf("complete task %s of job %s: stored dependent: %w", task, job, err)
		}
		res.Ready = append(res.Ready, t)
	}
	return res, nil
}

// MarkQueued records that tasks were published.
func (l *Ledger) MarkQueued(ctx context.Context, job string, tasks []string) error {
	if len(tasks) == 0 {
		return nil
	}
	ks := make([]string, len(tasks))
	for i, t := range tasks {
		ks[i] = l.keys.Task(job, t)
	}
	if err := queuedScript.Run(ctx, l.rdb, ks, nowMS()).Err(); err != nil {
		return fmt.Errorf("mark %d tasks of job %s queued: %w", len(tasks), job, err)
	}
	return nil
}

// Retry records a transient failure of a task that will be redelivered.
func (l *Ledger) Retry(ctx context.Context, job, task, errText string, r Run) error {
	if err := retryScript.Run(ctx, l.rdb, []string{l.keys.Task(job, task)}, errText, nowMS(), r.Attempts, r.Worker, r.Started.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("record failure of task %s of job %s: %w", task, job, err)
	}
	return nil
}

// DeadResult is what a task's death changed.
type DeadResult struct {
	// JobFailed is true when this death moved the job to failed.
	JobFailed bool
	// Blocked lists the downstream tasks now blocked.
	Blocked []string
}

// Dead records that a task failed for good and blocks its dependents,
// transitively.
func (l *Ledger) Dead(ctx context.Context, job, task, errText string, r Run) (DeadResult, error) {
	vals, err := deadScript.Run(ctx, l.rdb, []string{l.keys.Task(job, task), l.keys.Job(job)},
		l.keys.JobBase(job), task, errText, nowMS(), r.Attempts, r.Worker, r.Started.UnixMilli()).Slice()
	if err != nil {
		return DeadResult{}, fmt.Errorf("record death of task %s of job %s: %w", task, job, err)
	}
	res := DeadResult{JobFailed: len(vals) > 0 && vals[0] == int64(1)}
	for _, v := range vals[1:] {
		s, _ := v.(string)
		res.Blocked = append(res.Blocked, s)
	}
	return res, nil
}

// hotPath sends build's commands through the coalescing pipeliner and
// returns the error of the command that decides the call. Scripts are
// called by digest; after a Redis restart (an empty script cache) the
// deciding command fails with NOSCRIPT, and then the scripts are loaded and
// the commands sent once more, which is safe because a script that failed
// with NOSCRIPT did not run and every other command is idempotent.
func (l *Ledger) hotPath(ctx context.Context, build func(redis.Pipeliner), decisive func() error, scripts ...*redis.Script) error {
	for try := 0; ; try++ {
		l.hot.Do(ctx, build)
		err := decisive()
		if try > 0 || !isNoScript(err) {
			return err
		}
		for _, s := range scripts {
			if err := s.Load(ctx, l.rdb).Err(); err != nil {
				return err
			}
		}
	}
}

func isNoScript(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") }

func nowMS() int64 { return time.Now().UnixMilli() }

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// ErrNoTask is wrapped when a job has no task of the id.
var ErrNoTask = errors.New("no such task")

// ErrNotDead is wrapped when a replay names a task that is not dead.
var ErrNotDead = errors.New("only a dead task can be replayed")

// ReplayResult is what a replay changed.
type ReplayResult struct {
	// Task is the task's new message, to be published (see Release).
	Task *broker.Task
	// Unblocked are the downstream tasks that wait for it again.
	Unblocked []string
}

// Replay puts a dead task back with a new generation, so that its new
// message passes JetStream's de-duplication and gets a fresh delivery
// budget, while its attempts keep counting. The job runs again and the
// tasks blocked by this one wait for it again. The caller publishes the
// task with Release.
func (l *Ledger) Replay(ctx context.Context, job, task string) (ReplayResult, error) {
	f, err := l.rdb.HMGet(ctx, l.keys.Task(job, task), "state", "gen", "msg").Result()
	if err != nil {
		return ReplayResult{}, fmt.Errorf("replay task %s of job %s: %w", task, job, err)
	}
	state, _ := f[0].(string)
	gen, _ := f[1].(string)
	msg, _ := f[2].(string)
	if state == "" {
		return ReplayResult{}, fmt.Errorf("replay task %s of job %s: %w", task, job, ErrNoTask)
	}
	if state != StateDead && state != StateReady {
		return ReplayResult{}, fmt.Errorf("replay task %s of job %s: %w (it is %s)", task, job, ErrNotDead, state)
	}
	old, err := broker.DecodeTask([]byte(msg))
	if err != nil {
		return ReplayResult{}, fmt.Errorf("replay task %s of job %s: %w", task, job, err)
	}
	if state == StateReady {
		// A replay whose publication failed: publish the same generation
		// again (JetStream drops it if the first one did arrive).
		return ReplayResult{Task: old}, nil
	}
	t := old.AtGeneration(atoi(gen) + 1)
	data, err := t.Encode()
	if err != nil {
		return ReplayResult{}, err
	}
	vals, err := replayScript.Run(ctx, l.rdb, []string{l.keys.Task(job, task), l.keys.Job(job)},
		l.keys.JobBase(job), task, gen, t.Generation, data, nowMS()).Slice()
	if err != nil {
		return ReplayResult{}, fmt.Errorf("replay task %s of job %s: %w", task, job, err)
	}
	if vals[0] != int64(1) {
		return ReplayResult{}, fmt.Errorf("replay task %s of job %s: %w (it is %v)", task, job, ErrNotDead, vals[1])
	}
	res := ReplayResult{Task: t}
	for _, v := range vals[1:] {
		s, _ := v.(string)
		res.Unblocked = append(res.Unblocked, s)
	}
	return res, nil
}
