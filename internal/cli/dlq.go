package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/planner"
)

// DLQOptions are the inputs of `orchestrate dlq`.
type DLQOptions struct {
	Action string // ls, show or purge
	ID     uint64
	Job    string
	Role   string
	Yes    bool
	Output string
}

// NewCmdDLQ builds `orchestrate dlq ls|show|purge`.
func NewCmdDLQ(f *Factory, runF func(context.Context, *DLQOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List, show and purge the dead letters: tasks that failed for good",
		Long: `A task that fails permanently, or transiently on every one of its
--max-deliver deliveries, goes to the dead-letter stream ORCH_DLQ with its
payload, error, attempts, worker and time; its job fails and the tasks
downstream of it are blocked. 'orchestrate replay' puts such tasks back.`,
		Example: `  orchestrate dlq ls
  orchestrate dlq ls --job ml-churn-system-20261126t010203-3fa9c1 --output json
  orchestrate dlq show 3
  orchestrate dlq purge --yes`,
		Args: usageArgs(cobra.NoArgs),
	}
	run := func(opts *DLQOptions) func(cmd *cobra.Command, args []string) error {
		return func(cmd *cobra.Command, args []string) error {
			if opts.Action == "show" {
				id, err := strconv.ParseUint(args[0], 10, 64)
				if err != nil || id == 0 {
					return usagef("dead letter id %q: want the number 'orchestrate dlq ls' shows", args[0])
				}
				opts.ID = id
			}
			if err := checkOutput(opts.Output); err != nil {
				return err
			}
			if opts.Action == "purge" && !opts.Yes {
				return usagef("purging deletes every dead letter for good: confirm with --yes")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runDLQ(cmd.Context(), f, opts)
		}
	}
	ls := &DLQOptions{Action: "ls"}
	lsCmd := &cobra.Command{Use: "ls", Short: "List the dead letters, oldest first", Args: usageArgs(cobra.NoArgs), RunE: run(ls),
		Example: "  orchestrate dlq ls --role data-science-analyst"}
	lsCmd.Flags().StringVar(&ls.Job, "job", "", "only this job's")
	lsCmd.Flags().StringVar(&ls.Role, "role", "", "only this role's")
	lsCmd.Flags().StringVarP(&ls.Output, "output", "o", "text", "output format: text or json")
	show := &DLQOptions{Action: "show"}
	showCmd := &cobra.Command{Use: "show ID", Short: "Show one dead letter with its payload", Args: usageArgs(cobra.ExactArgs(1)), RunE: run(show),
		Example: "  orchestrate dlq show 3 --output json"}
	showCmd.Flags().StringVarP(&show.Output, "output", "o", "text", "output format: text or json")
	purge := &DLQOptions{Action: "purge"}
	purgeCmd := &cobra.Command{Use: "purge --yes", Short: "Delete every dead letter", Args: usageArgs(cobra.NoArgs), RunE: run(purge),
		Example: "  orchestrate dlq purge --yes"}
	purgeCmd.Flags().BoolVar(&purge.Yes, "yes", false, "confirm")
	cmd.AddCommand(lsCmd, showCmd, purgeCmd)
	return cmd
}

// DeadLetterReport is a dead letter as --output json prints it.
type DeadLetterReport struct {
	ID       uint64 `json:"id"`
	Time     string `json:"time"`
	Role     string `json:"role"`
	Job      string `json:"job"`
	Task     string `json:"task"`
	Attempts int    `json:"attempts"`
	Worker   string `json:"worker"`
	Error    string `json:"error"`
	// Payload is the task message: JSON when it was valid JSON, else a
	// string.
	Payload json.RawMessage `json:"payload,omitempty"`
}

func deadLetterReport(e broker.DeadLetterEntry, payload bool) DeadLetterReport {
	r := DeadLetterReport{ID: e.ID, Time: e.Time.UTC().Format("2006-01-02T15:04:05.000Z"), Role: e.Role, Job: e.Job, Task: e.Task,
		Attempts: e.Attempts, Worker: e.Worker, Error: e.Error}
	if payload {
		if json.Valid(e.Payload) {
			r.Payload = e.Payload
		} else {
			r.Payload, _ = json.Marshal(string(e.Payload))
		}
	}
	return r
}

func runDLQ(ctx context.Context, f *Factory, opts *DLQOptions) error {
	st, err := stack.Open(ctx, f.StackOptions(false))
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Broker.EnsureTopology(ctx, nil); err != nil {
		return err
	}
	switch opts.Action {
	case "purge":
		n, err := st.Broker.PurgeDeadLetters(ctx)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(f.IO.Out, "purged %d dead letters\n", n)
		return err
	case "show":
		e, err := st.Broker.DeadLetterByID(ctx, opts.ID)
		if errors.Is(err, broker.ErrNoDeadLetter) {
			return usageError{err}
		}
		if err != nil {
			return err
		}
		r := deadLetterReport(e, true)
		if opts.Output == "json" {
			return writeJSON(f.IO.Out, r)
		}
		fmt.Fprintf(f.IO.Out, "dead letter %d\n  job:      %s\n  task:     %s\n  role:     %s\n  attempts: %d\n  worker:   %s\n  time:     %s\n  error:    %s\n  payload:  %s\n",
			r.ID, r.Job, r.Task, r.Role, r.Attempts, r.Worker, r.Time, r.Error, r.Payload)
		return nil
	}
	entries, err := st.Broker.DeadLetters(ctx, opts.Job, opts.Role)
	if err != nil {
		return err
	}
	reports := make([]DeadLetterReport, len(entries))
	for i, e := range entries {
		reports[i] = deadLetterReport(e, false)
	}
	if opts.Output == "json" {
		return writeJSON(f.IO.Out, reports)
	}
	printDeadLetters(f.IO.Out, reports)
	return nil
}

func printDeadLetters(w io.Writer, rs []DeadLetterReport) {
	if len(rs) == 0 {
		fmt.Fprintln(w, "No dead letters.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tROLE\tJOB\tTASK\tATTEMPTS\tERROR")
	for _, r := range rs {
		msg := firstLine(r.Error)
		if len(msg) > 80 {
			msg = msg[:77] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\n", r.ID, r.Time, r.Role, r.Job, r.Task, r.Attempts, msg)
	}
	_ = tw.Flush()
}

// ReplayOptions are the inputs of `orchestrate replay`.
type ReplayOptions struct {
	Tasks  []string // JOB/TASK or dead letter ids
	Job    string
	All    bool
	Wait   bool
	Output string
}

// NewCmdReplay builds `orchestrate replay`.
func NewCmdReplay(f *Factory, runF func(context.Context, *ReplayOptions) error) *cobra.Command {
	opts := &ReplayOptions{}
	cmd := &cobra.Command{
		Use:   "replay JOB/TASK... | ID... | --job JOB | --all",
		Short: "Put dead tasks back on their queues, so that their jobs can finish",
		Long: `replay re-publishes dead tasks with a new generation: each gets a fresh
budget of --max-deliver deliveries while its attempts keep counting, its job
runs again, and the tasks blocked by it wait for it again. A task names
itself as JOB/TASK or by its dead letter's id ('orchestrate dlq ls');
--job replays every dead task of a job, --all every dead letter's task.
The dead letters of replayed tasks are deleted.`,
		Example: `  orchestrate replay --job ml-churn-system-20261126t010203-3fa9c1 --wait
  orchestrate replay ml-churn-system-20261126t010203-3fa9c1/train-models
  orchestrate replay 3 4
  orchestrate replay --all`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Tasks = args
			n := 0
			for _, given := range []bool{len(args) > 0, opts.Job != "", opts.All} {
				if given {
					n++
				}
			}
			if n != 1 {
				return usagef("say what to replay: JOB/TASK or dead letter ids, --job JOB, or --all")
			}
			if opts.Wait && opts.All {
				return usagef("--wait follows one job: use it with --job or with tasks of one job")
			}
			if err := checkOutput(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runReplay(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Job, "job", "", "replay every dead task of this job")
	cmd.Flags().BoolVar(&opts.All, "all", false, "replay the task of every dead letter")
	cmd.Flags().BoolVar(&opts.Wait, "wait", false, "follow the job until it ends; exit 0 only if it succeeded")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	return cmd
}

// ReplayReport is what --output json prints without --wait.
type ReplayReport struct {
	Job        string   `json:"job"`
	Task       string   `json:"task"`
	Generation int      `json:"generation"`
	Unblocked  []string `json:"unblocked"`
}

func runReplay(ctx context.Context, f *Factory, opts *ReplayOptions) error {
	st, err := stack.Open(ctx, f.StackOptions(false))
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Broker.EnsureTopology(ctx, st.Skills.Roles()); err != nil {
		return err
	}
	letters, err := st.Broker.DeadLetters(ctx, "", "")
	if err != nil {
		return err
	}
	targets, err := replayTargets(ctx, st, opts, letters)
	if err != nil {
		return err
	}
	sub := st.Submitter()
	var reports []ReplayReport
	jobs := map[string]bool{}
	for _, t := range targets {
		res, err := sub.Replay(ctx, t[0], t[1])
		if err != nil {
			if errors.Is(err, planner.ErrNotDead) || errors.Is(err, planner.ErrNoTask) {
				return usageError{err}
			}
			return err
		}
		jobs[t[0]] = true
		for _, e := range letters {
			if e.Job == t[0] && e.Task == t[1] {
				if err := st.Broker.DeleteDeadLetter(ctx, e.ID); err != nil {
					return err
				}
			}
		}
		reports = append(reports, ReplayReport{Job: t[0], Task: t[1], Generation: res.Task.Generation, Unblocked: orEmpty(res.Unblocked)})
		if opts.Output != "json" || opts.Wait {
			line := fmt.Sprintf("replayed %s/%s (generation %d)", t[0], t[1], res.Task.Generation)
			if len(res.Unblocked) > 0 {
				line += "; waiting for it again: " + strings.Join(res.Unblocked, ", ")
			}
			fmt.Fprintln(f.IO.ErrOut, line)
		}
	}
	if opts.Wait {
		if len(jobs) != 1 {
			return usagef("--wait follows one job; the tasks belong to %d", len(jobs))
		}
		for job := range jobs {
			if _, err := waitJob(ctx, st, job, f.IO.ErrOut); err != nil {
				return err
			}
			return finish(ctx, f, st, job, "", opts.Output)
		}
	}
	if opts.Output == "json" {
		return writeJSON(f.IO.Out, reports)
	}
	if len(reports) == 0 {
		fmt.Fprintln(f.IO.Out, "Nothing to replay.")
	}
	return nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// replayTargets resolves what to replay to (job, task) pairs, in order,
// without repeats.
func replayTargets(ctx context.Context, st *stack.Stack, opts *ReplayOptions, letters []broker.DeadLetterEntry) ([][2]string, error) {
	var out [][2]string
	seen := map[[2]string]bool{}
	add := func(job, task string) {
		k := [2]string{job, task}
		if !seen[k] && job != "" && task != "" {
			seen[k] = true
			out = append(out, k)
		}
	}
	switch {
	case opts.Job != "":
		js, err := st.Ledger.Job(ctx, opts.Job)
		if err != nil {
			return nil, usageError{err}
		}
		for _, t := range js.Tasks {
			if t.State == planner.StateDead {
				add(opts.Job, t.ID)
			}
		}
	case opts.All:
		for _, e := range letters {
			add(e.Job, e.Task)
		}
	default:
		for _, a := range opts.Tasks {
			if job, task, ok := strings.Cut(a, "/"); ok {
				add(job, task)
				continue
			}
			id, err := strconv.ParseUint(a, 10, 64)
			if err != nil {
				return nil, usagef("%q: want JOB/TASK or a dead letter id", a)
			}
			e, err := st.Broker.DeadLetterByID(ctx, id)
			if err != nil {
				return nil, usageError{err}
			}
			if e.Job == "" {
				return nil, usagef("dead letter %d is not a task (%s): it cannot be replayed, only purged", id, firstLine(e.Error))
			}
			add(e.Job, e.Task)
		}
	}
	return out, nil
}
