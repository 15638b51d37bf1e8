package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/orchestrate-dev/orchestrate/internal/stack"
)

// StatusOptions are the inputs of `orchestrate status`.
type StatusOptions struct {
	Job    string
	Output string
}

// NewCmdStatus builds `orchestrate status JOB`.
func NewCmdStatus(f *Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{}
	cmd := &cobra.Command{
		Use:     "status JOB",
		Short:   "Show a job's state and every task's role, state, attempts and worker",
		Example: `  orchestrate status ml-churn-system-20261126t010203-3fa9c1 --output json`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Job = args[0]
			if err := checkOutput(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			st, err := stack.Open(cmd.Context(), f.StackOptions(false))
			if err != nil {
				return err
			}
			defer st.Close()
			r, err := jobReport(cmd.Context(), st, opts.Job, "")
			if err != nil {
				return err
			}
			if opts.Output == "json" {
				return writeJSON(f.IO.Out, r)
			}
			printReport(f.IO.Out, r)
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	return cmd
}

// JobsOptions are the inputs of `orchestrate jobs`.
type JobsOptions struct {
	Limit  int
	Output string
}

// NewCmdJobs builds `orchestrate jobs`.
func NewCmdJobs(f *Factory, runF func(context.Context, *JobsOptions) error) *cobra.Command {
	opts := &JobsOptions{}
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List the newest jobs",
		Example: `  orchestrate jobs --limit 10
  orchestrate jobs --output json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			st, err := stack.Open(cmd.Context(), f.StackOptions(false))
			if err != nil {
				return err
			}
			defer st.Close()
			jobs, err := st.Ledger.Jobs(cmd.Context(), opts.Limit)
			if err != nil {
				return err
			}
			if opts.Output == "json" {
				return writeJSON(f.IO.Out, jobs)
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "JOB\tSTATE\tTASKS\tSUCCEEDED\tDEAD\tCREATED")
			for _, j := range jobs {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", j.ID, j.State, j.Total, j.Succeeded, j.Dead, j.Created.Format("2006-01-02 15:04:05"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&opts.Limit, "limit", 50, "how many jobs to list")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	return cmd
}
