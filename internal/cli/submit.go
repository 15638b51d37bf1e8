package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/planner"
)

// SubmitOptions are the inputs of `orchestrate submit`.
type SubmitOptions struct {
	Goal      string
	Decompose bool
	Wait      bool
	Output    string
	Data      DataOptions
}

// NewCmdSubmit builds `orchestrate submit GOAL`.
func NewCmdSubmit(f *Factory, runF func(context.Context, *SubmitOptions) error) *cobra.Command {
	opts := &SubmitOptions{}
	cmd := &cobra.Command{
		Use:   "submit GOAL --decompose",
		Short: "Submit a goal as a job to shared servers, from any node",
		Long: `submit plans the goal without questions (--decompose: the builtin
catalog's decomposition with its default answers), submits the whole DAG
and prints the job id. Worker pools anywhere pick the subtasks up.
With --wait it follows the job to the end and exits 0 only if it succeeded.`,
		Example: `  orchestrate submit "Build production ML system for customer churn prediction with real-time inference" --decompose
  orchestrate submit "Build production ML system for customer churn prediction with real-time inference" --decompose --wait --output json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Goal = args[0]
			if strings.TrimSpace(opts.Goal) == "" {
				return usagef("the goal is empty: say what to build")
			}
			if !opts.Decompose {
				return usagef("say how to plan the goal: --decompose plans it into the whole DAG of subtasks")
			}
			if err := checkOutput(opts.Output); err != nil {
				return err
			}
			if err := opts.Data.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSubmit(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Decompose, "decompose", false, "plan the goal into a DAG of subtasks and submit them all")
	cmd.Flags().BoolVar(&opts.Wait, "wait", false, "follow the job until it ends; exit 0 only if it succeeded")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	opts.Data.addFlags(cmd.Flags())
	return cmd
}

func runSubmit(ctx context.Context, f *Factory, opts *SubmitOptions) error {
	if _, err := planner.DecomposeData(opts.Goal, nil, planner.Dataset{Rows: opts.Data.Rows}); err != nil {
		return err
	}
	st, err := stack.Open(ctx, f.StackOptions(false))
	if err != nil {
		return err
	}
	defer st.Close()
	plan, err := opts.Data.plan(ctx, st.Store, opts.Goal)
	if err != nil {
		return err
	}
	if err := st.Broker.EnsureTopology(ctx, st.Skills.Roles()); err != nil {
		return err
	}
	job, err := st.Submitter().Submit(ctx, plan)
	if err != nil {
		return err
	}
	if !opts.Wait {
		if opts.Output == "json" {
			return writeJSON(f.IO.Out, map[string]string{"job": job})
		}
		_, err := fmt.Fprintln(f.IO.Out, job)
		return err
	}
	var progress io.Writer = f.IO.ErrOut
	fmt.Fprintf(progress, "job %s submitted: %d subtasks\n", job, len(plan.Subtasks()))
	if _, err := waitJob(ctx, st, job, progress); err != nil {
		return err
	}
	return finish(ctx, f, st, job, "", opts.Output)
}
