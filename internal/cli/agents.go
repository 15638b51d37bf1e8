package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/workers"
)

// AgentsOptions are the inputs of `orchestrate agents`.
type AgentsOptions struct {
	Output string
}

// NewCmdAgents builds `orchestrate agents`.
func NewCmdAgents(f *Factory, runF func(context.Context, *AgentsOptions) error) *cobra.Command {
	opts := &AgentsOptions{}
	cmd := &cobra.Command{
		Use:   "agents",
		Short: "List every live agent in the cluster and the task it runs",
		Long: `agents lists the agents of every worker pool whose heartbeat has not
expired, one line each: the role of the task it runs, the task's title, its
job and how long it has run, or "idle" with the roles it serves. Busy agents
come first, then idle ones, each by role and agent id.

--output wide adds the agent id, host, pid, uptime, tasks done and task id
as a table; --output json prints an array of objects with the fields id,
host, pid, roles, started, uptime_s, tasks_done, state ("busy" or "idle"),
and for a busy agent job, task, role, title, since and elapsed_s.`,
		Example: `  orchestrate agents
  orchestrate agents --output wide
  orchestrate agents --output json | jq -r '.[] | select(.state == "busy") | .task'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch opts.Output {
			case "text", "wide", "json":
			default:
				return usagef("--output %q: want text, wide or json", opts.Output)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAgents(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text, wide or json")
	return cmd
}

func runAgents(ctx context.Context, f *Factory, opts *AgentsOptions) error {
	st, err := stack.Open(ctx, f.StackOptions(false))
	if err != nil {
		return err
	}
	defer st.Close()
	agents, err := workers.ListAgents(ctx, st.Redis, st.Ledger.Keys())
	if err != nil {
		return err
	}
	return writeAgents(f.IO.Out, opts.Output, agents, time.Now())
}

// AgentReport is one agent as `agents --output json` prints it. The field
// names are stable.
type AgentReport struct {
	ID   string `json:"id"`
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// Roles are the roles the agent serves.
	Roles []string `json:"roles"`
	// Started is when the agent's pool started; UptimeS the seconds since.
	Started time.Time `json:"started"`
	UptimeS float64   `json:"uptime_s"`
	// TasksDone counts the tasks the agent finished successfully.
	TasksDone int `json:"tasks_done"`
	// State is "busy" or "idle".
	State string `json:"state"`
	// The task a busy agent runs: since when, and for how many seconds.
	Job      string    `json:"job,omitempty"`
	Task     string    `json:"task,omitempty"`
	Role     string    `json:"role,omitempty"`
	Title    string    `json:"title,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	ElapsedS float64   `json:"elapsed_s,omitempty"`
}

// Agent states of an AgentReport.
const (
	AgentBusy = "busy"
	AgentIdle = "idle"
)

// agentReports orders the agents for people and computes their times at
// now: busy agents first, then idle ones, each by role and id.
func agentReports(agents []workers.AgentInfo, now time.Time) []AgentReport {
	out := make([]AgentReport, 0, len(agents))
	for _, a := range agents {
		r := AgentReport{ID: a.ID, Host: a.Host, PID: a.PID, Roles: a.Roles, Started: a.Started,
			UptimeS: span(a.Started, now), TasksDone: a.Done, State: AgentIdle}
		if !a.Idle() {
			r.State, r.Job, r.Task, r.Role, r.Title, r.Since = AgentBusy, a.Job, a.Task, a.Role, a.Title, a.Since
			r.ElapsedS = span(a.Since, now)
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.State == AgentBusy) != (b.State == AgentBusy) {
			return a.State == AgentBusy
		}
		if la, lb := a.roleLabel(), b.roleLabel(); la != lb {
			return la < lb
		}
		return a.ID < b.ID
	})
	return out
}

// roleLabel is the role a busy agent works for, or the roles an idle one
// serves.
func (r AgentReport) roleLabel() string {
	if r.State == AgentBusy {
		return r.Role
	}
	return strings.Join(r.Roles, ",")
}

// writeAgents prints the live agents in the given output format, with
// durations measured at now.
func writeAgents(w io.Writer, output string, agents []workers.AgentInfo, now time.Time) error {
	reports := agentReports(agents, now)
	switch output {
	case "json":
		return writeJSON(w, reports)
	case "wide":
		return writeAgentsWide(w, reports)
	}
	if len(reports) == 0 {
		_, err := fmt.Fprintln(w, "No active agents.")
		return err
	}
	var b strings.Builder
	b.WriteString("Active Agents:\n")
	for _, r := range reports {
		fmt.Fprintf(&b, "[%s]: ", r.roleLabel())
		if r.State == AgentIdle {
			b.WriteString("idle\n")
			continue
		}
		title := r.Title
		if title == "" {
			title = r.Task
		}
		fmt.Fprintf(&b, "%s (job %s", title, r.Job)
		if !r.Since.IsZero() {
			b.WriteString(", " + formatElapsed(seconds(r.ElapsedS)))
		}
		b.WriteString(")\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeAgentsWide(w io.Writer, reports []AgentReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tHOST\tPID\tUPTIME\tDONE\tROLE\tTASK\tJOB\tELAPSED\tTITLE")
	for _, r := range reports {
		task, job, elapsed, title := "-", "-", "-", "idle"
		if r.State == AgentBusy {
			task, job, title = r.Task, r.Job, r.Title
			if !r.Since.IsZero() {
				elapsed = formatElapsed(seconds(r.ElapsedS))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Host, r.PID,
			formatElapsed(seconds(r.UptimeS)), r.TasksDone, r.roleLabel(), task, job, elapsed, title)
	}
	return tw.Flush()
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// formatElapsed writes a duration for people, to the second: 42s, 3m05s,
// 2h07m.
func formatElapsed(d time.Duration) string {
	d = max(d, 0).Round(time.Second)
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
	default:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
	}
}
