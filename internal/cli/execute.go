package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/planner"
)

// ExecutePlanOptions are the inputs of `orchestrate execute-plan`.
type ExecutePlanOptions struct {
	Name   string
	Wait   bool
	Output string
}

// NewCmdExecutePlan builds `orchestrate execute-plan NAME`.
func NewCmdExecutePlan(f *Factory, runF func(context.Context, *ExecutePlanOptions) error) *cobra.Command {
	opts := &ExecutePlanOptions{}
	cmd := &cobra.Command{
		Use:   "execute-plan NAME",
		Short: "Submit a saved plan as a new job",
		Long: `execute-plan submits the plan saved under NAME (by 'orchestrate plan') as
a new job and prints its id; a plan can be executed as often as wanted.
With --wait it follows the job and exits 0 only if it succeeded.`,
		Example: `  orchestrate execute-plan ml-churn-system
  orchestrate execute-plan ml-churn-system --wait --output json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if err := checkOutput(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runExecutePlan(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Wait, "wait", false, "follow the job until it ends; exit 0 only if it succeeded")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runExecutePlan(ctx context.Context, f *Factory, opts *ExecutePlanOptions) error {
	st, err := stack.Open(ctx, f.StackOptions(false))
	if err != nil {
		return err
	}
	defer st.Close()
	plan, err := planner.NewPlans(st.Redis, st.Prefix).Load(ctx, opts.Name)
	if err != nil {
		return usageError{err}
	}
	if err := plan.Validate(st.Skills); err != nil {
		return usageError{err}
	}
	return submitPlan(ctx, f, st, plan, opts.Wait, opts.Output)
}
