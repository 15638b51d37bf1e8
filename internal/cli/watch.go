package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/orchestrate-dev/orchestrate/internal/stack"
)

// WatchOptions are the inputs of `orchestrate watch`.
type WatchOptions struct {
	Job    string
	Output string
}

// NewCmdWatch builds `orchestrate watch JOB`.
func NewCmdWatch(f *Factory, runF func(context.Context, *WatchOptions) error) *cobra.Command {
	opts := &WatchOptions{}
	cmd := &cobra.Command{
		Use:   "watch JOB",
		Short: "Follow a job, from any node, until it ends",
		Long: `watch follows a job submitted from anywhere until it succeeds or fails,
showing its progress on the error stream: a bar per phase of the plan with
its tasks' counts by state and the tasks running now when that stream is a
terminal, one line per event otherwise. Then it prints the job's report
(--output json: the same object as status) and exits 0 if the job
succeeded, 1 if it failed. A job already over is reported at once.`,
		Example: `  orchestrate watch ml-churn-system-20261126t010203-3fa9c1
  orchestrate watch ml-churn-system-20261126t010203-3fa9c1 --output json > report.json
  orchestrate watch "$(orchestrate submit "Build production ML system for customer churn prediction with real-time inference" --decompose)"`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Job = args[0]
			if err := checkOutput(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runWatch(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format of the final report: text or json")
	return cmd
}

func runWatch(ctx context.Context, f *Factory, opts *WatchOptions) error {
	st, err := stack.Open(ctx, f.StackOptions(false))
	if err != nil {
		return err
	}
	defer st.Close()
	// An unknown job is a usage error before anything is shown.
	if _, err := st.Ledger.JobSummary(ctx, opts.Job); err != nil {
		return err
	}
	if _, err := waitJob(ctx, st, opts.Job, f.IO.ErrOut); err != nil {
		return err
	}
	return finish(ctx, f, st, opts.Job, "", opts.Output)
}
