package planner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// TaskStatus is a task as the ledger knows it.
type TaskStatus struct {
	ID       string `json:"id"`
	Role     string `json:"role"`
	Skill    string `json:"skill"`
	Title    string `json:"title,omitempty"`
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	Worker   string `json:"worker"`
	Error    string `json:"error,omitempty"`
	Summary  string `json:"summary,omitempty"`
	// Replays counts the times the task was put back after it died.
	Replays  int       `json:"replays,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// Usage is what the task's model calls cost, over all its attempts;
	// nil for a task that made none.
	Usage *specialists.Usage `json:"usage,omitempty"`
}

// JobStatus is a job with its tasks in plan order.
type JobStatus struct {
	ID        string    `json:"job"`
	Name      string    `json:"name"`
	Goal      string    `json:"goal"`
	State     string    `json:"state"`
	Created   time.Time `json:"created"`
	Finished  time.Time `json:"finished,omitzero"`
	Total     int       `json:"total"`
	Succeeded int       `json:"succeeded"`
	Dead      int       `json:"dead"`
	// Usage sums the model calls of the job's tasks; BudgetUSD bounds
	// their cost (zero: no bound).
	Usage     *specialists.Usage `json:"usage,omitempty"`
	BudgetUSD float64            `json:"budget_usd,omitempty"`
	Tasks     []TaskStatus       `json:"tasks,omitempty"`
}

// Done reports whether the job reached a final state.
func (j *JobStatus) Done() bool { return j.State == JobSucceeded || j.State == JobFailed }

// JobSummary reads a job without its tasks.
func (l *Ledger) JobSummary(ctx context.Context, job string) (*JobStatus, error) {
	h, err := l.rdb.HGetAll(ctx, l.keys.Job(job)).Result()
	if err != nil {
		return nil, fmt.Errorf("read job %s: %w", job, err)
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("%w %q", ErrNoJob, job)
	}
	return jobStatus(job, h), nil
}

// jobStatus reads a job hash.
func jobStatus(job string, h map[string]string) *JobStatus {
	return &JobStatus{
		ID: job, Name: h["name"], Goal: h["goal"], State: h["state"],
		Created: msTime(h["created_ms"]), Finished: msTime(h["finished_ms"]),
		Total: atoi(h["total"]), Succeeded: atoi(h["total"]) - atoi(h["remaining"]), Dead: atoi(h["dead"]),
		Usage: usageOf(h), BudgetUSD: fromNanoUSD(atoi64(h[fieldBudget])),
	}
}

// Job reads a job and all its tasks.
func (l *Ledger) Job(ctx context.Context, job string) (*JobStatus, error) {
	js, err := l.JobSummary(ctx, job)
	if err != nil {
		return nil, err
	}
	ids, err := l.rdb.LRange(ctx, l.keys.Tasks(job), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("read tasks of job %s: %w", job, err)
	}
	const chunk = 1000
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		pipe := l.rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, len(part))
		for i, id := range part {
			cmds[i] = pipe.HGetAll(ctx, l.keys.Task(job, id))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("read tasks of job %s: %w", job, err)
		}
		for i, c := range cmds {
			h := c.Val()
			t, _ := broker.DecodeTask([]byte(h["msg"]))
			if t == nil {
				t = &broker.Task{}
			}
			js.Tasks = append(js.Tasks, TaskStatus{
				ID: part[i], Role: t.Role, Skill: t.Skill, Title: t.Title, State: h["state"],
				Attempts: atoi(h["attempts"]), Worker: h["worker"], Error: h["error"], Summary: h["summary"], Replays: atoi(h["gen"]),
				Started: msTime(h["started_ms"]), Finished: msTime(h["finished_ms"]), Usage: usageOf(h),
			})
		}
	}
	return js, nil
}

// Jobs lists the newest jobs first, at most limit (zero means 50).
func (l *Ledger) Jobs(ctx context.Context, limit int) ([]*JobStatus, error) {
	if limit <= 0 {
		limit = 50
	}
	ids, err := l.rdb.ZRevRange(ctx, l.keys.Jobs(), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	pipe := l.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, l.keys.Job(id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	out := make([]*JobStatus, 0, len(ids))
	for i, c := range cmds {
		if h := c.Val(); len(h) > 0 { // empty when removed between the two reads
			out = append(out, jobStatus(ids[i], h))
		}
	}
	return out, nil
}

func msTime(s string) time.Time {
	n := atoi(s)
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(n))
}

// Plan reads the plan a job was created from.
func (l *Ledger) Plan(ctx context.Context, job string) (*Plan, error) {
	data, err := l.rdb.Get(ctx, l.keys.JobPlan(job)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w %q", ErrNoJob, job)
	}
	if err != nil {
		return nil, fmt.Errorf("read the plan of job %s: %w", job, err)
	}
	var p Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("decode the plan of job %s: %w", job, err)
	}
	return &p, nil
}
