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

	"github.com/orchestrate-dev/orchestrate/broker"
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
}

// NewLedger returns a ledger under a key prefix ("" means keys.DefaultPrefix).
func NewLedger(rdb redis.UniversalClient, prefix string) *Ledger {
	return &Ledger{rdb: rdb, keys: keys.New(prefix)}
}

// Keys is the key space of the ledger.
func (l *Ledger) Keys() keys.Space { return l.keys }

// Also adds commands to the pipeline of a ledger call, so that callers can
// piggyback their own writes (an agent's heartbeat) on the same round trip.
type Also func(redis.Pipeliner)

// createChunk bounds the commands of one pipeline when creating large jobs.
const createChunk = 512

// Create writes a job and its tasks. Tasks without dependencies are marked
// ready; the caller publishes them and calls MarkQueued. The job becomes
// visible (job hash and jobs index) only after all tasks are written, so a
// failure half-way leaves no job that anyone would run.
func (l *Ledger) Create(ctx context.Context, job string, p *Plan, tasks []*broker.Task, deps map[string][]string) error {
	now := nowMS()
	dependents := map[string][]string{}
	for id, ds := range deps {
		for _, d := range ds {
			dependents[d] = append(dependents[d], id)
		}
	}
	for start := 0; start < len(tasks); start += createChunk {
		pipe := l.rdb.Pipeline()
		end := min(start+createChunk, len(tasks))
		for _, t := range tasks[start:end] {
			msg, err := t.Encode()
			if err != nil {
				return fmt.Errorf("create job %s: encode task %s: %w", job, t.ID, err)
			}
			state := StatePending
			if len(deps[t.ID]) == 0 {
				state = StateReady
			}
			pipe.HSet(ctx, l.keys.Task(job, t.ID),
				"role", t.Role, "skill", t.Skill, "title", t.Title, "priority", string(t.Priority),
				"state", state, "deps_left", len(deps[t.ID]), "attempts", 0, "gen", t.Generation,
				"created_ms", now, "msg", msg)
			if ds := dependents[t.ID]; len(ds) > 0 {
				pipe.SAdd(ctx, l.keys.Dependents(job, t.ID), toAny(ds)...)
			}
			pipe.RPush(ctx, l.keys.Tasks(job), t.ID)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("create job %s: write tasks: %w", job, err)
		}
	}
	planJSON, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("create job %s: encode plan: %w", job, err)
	}
	pipe := l.rdb.TxPipeline()
	pipe.HSet(ctx, l.keys.Job(job),
		"name", p.Name, "goal", p.Goal, "plan", planJSON, "state", JobRunning,
		"created_ms", now, "updated_ms", now, "total", len(tasks), "remaining", len(tasks),
		"succeeded", 0, "dead", 0)
	pipe.ZAdd(ctx, l.keys.Jobs(), redis.Z{Score: float64(now), Member: job})
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("create job %s: %w", job, err)
	}
	return nil
}

// StartResult says whether an agent should execute a delivered task.
type StartResult struct {
	// Verdict is "run", "busy" (another agent holds the lease), or why
	// not: "missing", "stale", "waiting", "succeeded", "dead", "blocked".
	Verdict string
	// Attempts counts the executions of the task so far, this one
	// included; for "busy", the milliseconds left on the other lease.
	Attempts int
}

// Run reports whether the task should be executed.
func (r StartResult) Run() bool { return r.Verdict == "run" }

// Start claims a task for worker, with a lease that keeps other agents
// from running it at the same time until it expires or is renewed.
func (l *Ledger) Start(ctx context.Context, t *broker.Task, worker string, lease time.Duration, also Also) (StartResult, error) {
	var cmd *redis.Cmd
	err := l.pipelined(ctx, func(pipe redis.Pipeliner) {
		cmd = startScript.EvalSha(ctx, pipe, []string{l.keys.Task(t.Job, t.ID), l.keys.Job(t.Job)}, worker, nowMS(), t.Generation, lease.Milliseconds())
		if also != nil {
			also(pipe)
		}
	}, startScript)
	if err != nil {
		return StartResult{}, fmt.Errorf("start task %s of job %s: %w", t.ID, t.Job, err)
	}
	vals, err := cmd.Slice()
	if err != nil || len(vals) != 2 {
		return StartResult{}, fmt.Errorf("start task %s of job %s: unexpected reply %v: %v", t.ID, t.Job, vals, err)
	}
	verdict, _ := vals[0].(string)
	n, _ := vals[1].(int64)
	return StartResult{Verdict: verdict, Attempts: int(n)}, nil
}

// Extend renews worker's lease on a running task.
func (l *Ledger) Extend(ctx context.Context, job, task, worker string, lease time.Duration) error {
	err := extendScript.Run(ctx, l.rdb, []string{l.keys.Task(job, task)}, worker, time.Now().Add(lease).UnixMilli()).Err()
	if err != nil {
		return fmt.Errorf("extend lease on task %s of job %s: %w", task, job, err)
	}
	return nil
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
}

// Complete marks a task succeeded and releases its dependents.
func (l *Ledger) Complete(ctx context.Context, job, task, summary string, also Also) (CompleteResult, error) {
	var cmd *redis.Cmd
	err := l.pipelined(ctx, func(pipe redis.Pipeliner) {
		cmd = completeScript.EvalSha(ctx, pipe,
			[]string{l.keys.Task(job, task), l.keys.Job(job), l.keys.Dependents(job, task)},
			l.keys.JobBase(job), nowMS(), summary)
		if also != nil {
			also(pipe)
		}
	}, completeScript)
	if err != nil {
		return CompleteResult{}, fmt.Errorf("complete task %s of job %s: %w", task, job, err)
	}
	vals, err := cmd.Slice()
	if err != nil || len(vals) < 2 {
		return CompleteResult{}, fmt.Errorf("complete task %s of job %s: unexpected reply %v: %v", task, job, vals, err)
	}
	res := CompleteResult{First: vals[0] == int64(1), JobDone: vals[1] == int64(1)}
	for _, v := range vals[2:] {
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
func (l *Ledger) Retry(ctx context.Context, job, task, errText string) error {
	if err := retryScript.Run(ctx, l.rdb, []string{l.keys.Task(job, task)}, errText, nowMS()).Err(); err != nil {
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
func (l *Ledger) Dead(ctx context.Context, job, task, errText string) (DeadResult, error) {
	vals, err := deadScript.Run(ctx, l.rdb, []string{l.keys.Task(job, task), l.keys.Job(job)},
		l.keys.JobBase(job), task, errText, nowMS()).Slice()
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

// pipelined runs build's commands in one round trip. Scripts are called by
// digest; after a Redis restart (an empty script cache) they are loaded
// and the pipeline is sent again, which is safe because a script that
// failed with NOSCRIPT did not run.
func (l *Ledger) pipelined(ctx context.Context, build func(redis.Pipeliner), scripts ...*redis.Script) error {
	for try := 0; ; try++ {
		pipe := l.rdb.Pipeline()
		build(pipe)
		_, err := pipe.Exec(ctx)
		if err == nil {
			return nil
		}
		if try == 0 && isNoScript(err) {
			for _, s := range scripts {
				if err := s.Load(ctx, l.rdb).Err(); err != nil {
					return err
				}
			}
			continue
		}
		return err
	}
}

func isNoScript(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") }

func nowMS() int64 { return time.Now().UnixMilli() }

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
