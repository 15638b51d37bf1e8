package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/collector"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// JobReport is the one object that --output json prints for a job.
type JobReport struct {
	Job   string       `json:"job"`
	Name  string       `json:"name,omitempty"`
	State string       `json:"state"`
	Out   string       `json:"out,omitempty"`
	Tasks []TaskReport `json:"tasks"`
	// Phases are the plan's phases with their wall time, from the first
	// start to the last finish of their tasks.
	Phases []PhaseReport `json:"phases,omitempty"`
	Tests  *TestsReport  `json:"tests"`
	// Usage sums the model calls of the job's tasks (llm executors), and
	// BudgetUSD bounds their cost; both are absent for a job without.
	Usage     *specialists.Usage `json:"usage,omitempty"`
	BudgetUSD float64            `json:"budget_usd,omitempty"`
}

// PhaseReport is one phase of a JobReport.
type PhaseReport struct {
	Name    string   `json:"name"`
	Seconds float64  `json:"seconds"`
	Tasks   []string `json:"tasks"`
}

// TaskReport is one task of a JobReport.
type TaskReport struct {
	ID       string `json:"id"`
	Role     string `json:"role"`
	Skill    string `json:"skill"`
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	// Replays counts the times the task was replayed after it died.
	Replays int    `json:"replays,omitempty"`
	Worker  string `json:"worker"`
	Error   string `json:"error,omitempty"`
	Summary string `json:"summary,omitempty"`
	// Seconds is the task's wall time, from its start to its finish.
	Seconds float64 `json:"seconds,omitempty"`
	// Usage is what the task's model calls took and cost, over all its
	// attempts; absent for a task that made none.
	Usage *specialists.Usage `json:"usage,omitempty"`
}

// TestsReport says how the collector's test run went.
type TestsReport struct {
	Command []string `json:"command"`
	Passed  bool     `json:"passed"`
	// Packages counts the packages go test reported on.
	Packages int `json:"packages"`
	// DurationS is the collector task's wall time: assembling the tree and
	// running its tests.
	DurationS float64 `json:"duration_s"`
}

// jobReport reads a job's status and, when the collector ran, its tests.
func jobReport(ctx context.Context, st *stack.Stack, job, out string) (*JobReport, error) {
	js, err := st.Ledger.Job(ctx, job)
	if err != nil {
		return nil, err
	}
	r := &JobReport{Job: job, Name: js.Name, State: js.State, Out: out, Tasks: []TaskReport{}, Usage: js.Usage, BudgetUSD: js.BudgetUSD}
	byID := map[string]planner.TaskStatus{}
	for _, t := range js.Tasks {
		byID[t.ID] = t
		r.Tasks = append(r.Tasks, TaskReport{ID: t.ID, Role: t.Role, Skill: t.Skill, State: t.State, Attempts: t.Attempts, Replays: t.Replays,
			Worker: t.Worker, Error: t.Error, Summary: t.Summary, Seconds: span(t.Started, t.Finished), Usage: t.Usage})
	}
	plan, err := st.Ledger.Plan(ctx, job)
	if err != nil {
		return nil, err
	}
	for _, ph := range plan.Phases {
		pr := PhaseReport{Name: ph.Name}
		var first, last time.Time
		for _, sub := range ph.Subtasks {
			pr.Tasks = append(pr.Tasks, sub.ID)
			t := byID[sub.ID]
			if !t.Started.IsZero() && (first.IsZero() || t.Started.Before(first)) {
				first = t.Started
			}
			if t.Finished.After(last) {
				last = t.Finished
			}
		}
		pr.Seconds = span(first, last)
		r.Phases = append(r.Phases, pr)
	}
	data, err := st.Store.Read(ctx, job, collector.ReportPath)
	switch {
	case err == nil:
		rep, err := collector.ReadReport(data)
		if err != nil {
			return nil, fmt.Errorf("job %s: %w", job, err)
		}
		r.Tests = &TestsReport{Command: rep.Command, Passed: rep.Passed, Packages: len(rep.Packages)}
		for _, t := range r.Tasks {
			if t.Role == specialists.RoleCollector {
				r.Tests.DurationS = t.Seconds
			}
		}
	case !errors.Is(err, artifacts.ErrNotFound):
		return nil, err
	}
	return r, nil
}

// span is the seconds from start to end, rounded to milliseconds; zero
// when either is unknown.
func span(start, end time.Time) float64 {
	if start.IsZero() || end.Before(start) {
		return 0
	}
	return end.Sub(start).Round(time.Millisecond).Seconds()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printReport writes a job report for people.
func printReport(w io.Writer, r *JobReport) {
	fmt.Fprintf(w, "job %s: %s\n", r.Job, r.State)
	for _, t := range r.Tasks {
		line := fmt.Sprintf("  %-24s %-26s %-10s %7.1fs attempts=%d worker=%s", t.ID, t.Role, t.State, t.Seconds, t.Attempts, t.Worker)
		if t.Replays > 0 {
			line += fmt.Sprintf(" replays=%d", t.Replays)
		}
		if t.Usage != nil {
			line += " " + usageText(*t.Usage)
		}
		switch {
		case t.Error != "":
			line += "  error: " + firstLine(t.Error)
		case t.Summary != "":
			line += "\n      " + firstLine(t.Summary)
		}
		fmt.Fprintln(w, line)
	}
	if len(r.Phases) > 0 {
		parts := make([]string, len(r.Phases))
		for i, p := range r.Phases {
			parts[i] = fmt.Sprintf("%s %.1fs", p.Name, p.Seconds)
		}
		fmt.Fprintf(w, "phases: %s\n", strings.Join(parts, ", "))
	}
	if r.Tests != nil {
		verdict := "failed"
		if r.Tests.Passed {
			verdict = "passed"
		}
		fmt.Fprintf(w, "tests: %v %s in %.1fs\n", r.Tests.Command, verdict, r.Tests.DurationS)
	}
	if r.Usage != nil || r.BudgetUSD > 0 {
		var u specialists.Usage
		if r.Usage != nil {
			u = *r.Usage
		}
		line := "models: " + usageText(u)
		if r.BudgetUSD > 0 {
			line += fmt.Sprintf(" of a $%.2f budget", r.BudgetUSD)
		}
		fmt.Fprintln(w, line)
	}
	if r.Out != "" {
		fmt.Fprintf(w, "tree: %s\n", r.Out)
	}
}

// usageText is a task's or job's model usage on one line.
func usageText(u specialists.Usage) string {
	s := fmt.Sprintf("calls=%d tokens=%d/%d cost=$%.4f", u.Calls, u.InputTokens, u.OutputTokens, u.CostUSD)
	if u.CachedCalls > 0 {
		s += fmt.Sprintf(" cached=%d", u.CachedCalls)
	}
	return s
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

// waitJob follows a job until it succeeds or fails, showing its progress
// on w (see newProgress): bars on a terminal, else one line per event.
func waitJob(ctx context.Context, st *stack.Stack, job string, w io.Writer) (*planner.JobStatus, error) {
	if w == nil {
		w = io.Discard
	}
	pr := newProgress(w, systemTerminal(), job, func() (*planner.Plan, error) { return st.Ledger.Plan(ctx, job) })
	return followJob(ctx, st, job, pr)
}

// How followJob reads the ledger: the job's state every pollEvery, and,
// for a display that wants them, all its tasks at most every tasksEvery
// (less often when reading them takes long). finalEventGrace bounds the
// wait for the job's last event once the ledger says the job is over.
const (
	pollEvery       = 50 * time.Millisecond
	tasksEvery      = 250 * time.Millisecond
	finalEventGrace = 2 * time.Second
)

// followJob polls the ledger until the job is over and feeds pr with the
// job's events and, when it wants them, its tasks.
func followJob(ctx context.Context, st *stack.Stack, job string, pr jobProgress) (*planner.JobStatus, error) {
	defer pr.stop()
	wctx, cancel := context.WithCancel(ctx)
	final, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		_ = st.Broker.Watch(wctx, job, func(e broker.Event) bool {
			pr.event(e)
			if e.Kind == broker.EventJobSucceeded || e.Kind == broker.EventJobFailed {
				close(final)
				return false
			}
			return true
		})
	}()
	// No event may reach pr once it stopped.
	defer func() { cancel(); <-watched }()

	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var nextTasks time.Time
	for {
		js, err := st.Ledger.JobSummary(ctx, job)
		if err != nil {
			return nil, err
		}
		if pr.wantsTasks() && (js.Done() || !time.Now().Before(nextTasks)) {
			start := time.Now()
			full, err := st.Ledger.Job(ctx, job)
			if err != nil {
				return nil, err
			}
			pr.update(full)
			nextTasks = time.Now().Add(max(tasksEvery, 4*time.Since(start)))
		}
		if js.Done() {
			// The ledger is the record; the event stream follows it within
			// milliseconds, and the display should end with its last event.
			grace := time.NewTimer(finalEventGrace)
			defer grace.Stop()
			select {
			case <-final:
			case <-grace.C:
			case <-ctx.Done():
			}
			return js, nil
		}
		select {
		case <-ctx.Done():
			return js, ctx.Err()
		case <-tick.C:
		}
	}
}

func formatEvent(e broker.Event) string {
	s := e.Time.Format("15:04:05.000") + " "
	if e.Task == "" {
		s += "job " + e.Kind
	} else {
		s += fmt.Sprintf("%-24s %s", e.Task, e.Kind)
	}
	if e.Worker != "" {
		s += " by " + e.Worker
	}
	if e.Attempt > 1 {
		s += fmt.Sprintf(" (attempt %d)", e.Attempt)
	}
	if e.Error != "" {
		s += ": " + firstLine(e.Error)
	}
	return s
}

// finish prints a job's outcome and turns a failed job into ErrJobFailed.
func finish(ctx context.Context, f *Factory, st *stack.Stack, job, out, output string) error {
	r, err := jobReport(ctx, st, job, out)
	if err != nil {
		return err
	}
	if output == "json" {
		if err := writeJSON(f.IO.Out, r); err != nil {
			return err
		}
	} else {
		printReport(f.IO.Out, r)
	}
	if r.State != planner.JobSucceeded {
		return fmt.Errorf("%w: job %s is %s", ErrJobFailed, job, r.State)
	}
	return nil
}

func checkOutput(output string) error {
	switch output {
	case "", "text", "json":
		return nil
	}
	return usagef("--output %q: want text or json", output)
}
