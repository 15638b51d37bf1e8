package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/planner"
)

// SubmitOptions are the inputs of `orchestrate submit`.
type SubmitOptions struct {
	Goal      string
	Decompose bool
	Agent     string
	Skill     string
	Priority  string
	PlanFile  string
	Wait      bool
	Output    string
	Data      DataOptions
	// Planner decomposes the goal with --decompose: auto, llm or builtin.
	Planner string
}

// NewCmdSubmit builds `orchestrate submit TEXT`.
func NewCmdSubmit(f *Factory, runF func(context.Context, *SubmitOptions) error) *cobra.Command {
	opts := &SubmitOptions{}
	cmd := &cobra.Command{
		Use:   "submit TEXT [--decompose | --agent ROLE] [--priority high|normal|low]",
		Short: "Submit a goal, a task or a plan file as a job to shared servers, from any node",
		Long: `submit sends work to the worker pools of shared servers and prints the
job id; with --wait it follows the job to the end and exits 0 only if it
succeeded.

  --decompose       plans the goal without questions and submits the whole
                    DAG: the builtin catalog's scenario with its default
                    answers (churn: 1M customers, 100ms latency, weekly
                    retraining, AWS; defect detection: 100K frames a day,
                    50ms per frame on the device, weekly retraining, AWS
                    IoT Greengrass), or with --planner llm (the default
                    when --roles-config has a planner) a model's plan,
                    falling back to the catalog
  --agent ROLE      sends the text as one subtask to that role; the role's
                    skill is the one the text's words name, or --skill
  (neither)         chooses the role and skill from the text's words and
                    prints them
  --plan FILE.yaml  submits a plan file (see docs/plan.schema.json)

--priority applies to every subtask: workers take high before normal
before low.`,
		Example: `  orchestrate submit "Build production ML system for customer churn prediction with real-time inference" --decompose
  orchestrate submit "Build defect detection system using computer vision for manufacturing QC with edge deployment" --decompose
  orchestrate submit "Create recommendation system with collaborative filtering, content-based, and neural collaborative filtering" --agent ml-systems-architect --priority high
  orchestrate submit "Implement logistic regression baseline for comparison" --priority high
  orchestrate submit --plan ml-churn-system.yaml --wait --output json`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Goal = args[0]
			}
			if err := opts.check(); err != nil {
				return err
			}
			if err := checkOutput(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSubmit(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Decompose, "decompose", false, "plan the goal into a DAG of subtasks and submit them all")
	cmd.Flags().StringVar(&opts.Agent, "agent", "", "send the text as one subtask to this role")
	cmd.Flags().StringVar(&opts.Skill, "skill", "", "the skill of --agent's role to run (default: the one the text names)")
	cmd.Flags().StringVar(&opts.Priority, "priority", "normal", "priority of the subtasks: high, normal or low")
	cmd.Flags().StringVar(&opts.PlanFile, "plan", "", "submit this plan file (YAML) instead of a text")
	cmd.Flags().BoolVar(&opts.Wait, "wait", false, "follow the job until it ends; exit 0 only if it succeeded")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&opts.Planner, "planner", plannerAuto, "with --decompose, who plans: builtin (the catalog of scenarios), llm (the planner model of --roles-config, falling back to the catalog) or auto (llm when configured)")
	opts.Data.addFlags(cmd.Flags())
	return cmd
}

// check refuses combinations that cannot mean anything, before any server
// is reached.
func (o *SubmitOptions) check() error {
	if _, err := broker.ParsePriority(o.Priority); err != nil {
		return usagef("--priority %q: want high, normal or low", o.Priority)
	}
	switch {
	case o.PlanFile != "" && (o.Goal != "" || o.Decompose || o.Agent != ""):
		return usagef("--plan submits a plan file: give no text, --decompose or --agent with it")
	case o.PlanFile == "" && strings.TrimSpace(o.Goal) == "":
		return usagef("say what to do: a goal with --decompose, a task (optionally with --agent ROLE), or --plan FILE")
	case o.Decompose && o.Agent != "":
		return usagef("--decompose plans the whole goal; --agent sends one task to one role: use one of them")
	case o.Skill != "" && o.Agent == "":
		return usagef("--skill needs --agent: it names a skill of that role")
	case o.Planner != plannerAuto && !o.Decompose:
		return usagef("--planner chooses who decomposes the goal: add --decompose")
	}
	if !o.Decompose && o.Data != (DataOptions{Seed: planner.DefaultSeed}) {
		return usagef("--data, --test, --target, --positive, --rows and --seed apply to --decompose")
	}
	return o.Data.check()
}

func runSubmit(ctx context.Context, f *Factory, opts *SubmitOptions) error {
	var plan *planner.Plan
	mode := plannerBuiltin
	if opts.Decompose {
		var err error
		if mode, err = f.resolvePlanner(opts.Planner); err != nil {
			return err
		}
		if mode == plannerLLM && opts.Data != (DataOptions{Seed: planner.DefaultSeed}) {
			return usagef("--data, --test, --target, --positive, --rows and --seed are read by the builtin planner: add --planner builtin")
		}
	}
	switch {
	case opts.PlanFile != "":
		data, err := os.ReadFile(opts.PlanFile)
		if err != nil {
			return usagef("--plan: %v", err)
		}
		if plan, err = planner.ReadYAML(data); err != nil {
			return fmt.Errorf("%s: %w", opts.PlanFile, err)
		}
	case opts.Decompose && mode == plannerBuiltin:
		// Plan before reaching the servers, so a goal no scenario knows
		// fails fast; the data's digests come once the store is up.
		if _, err := planner.DecomposeData(opts.Goal, nil, planner.Dataset{Rows: opts.Data.Rows}); err != nil {
			return err
		}
	}
	st, err := stack.Open(ctx, f.StackOptions(false))
	if err != nil {
		return err
	}
	defer st.Close()
	switch {
	case opts.Decompose && mode == plannerLLM:
		decompose := f.decomposer(mode, st.Skills, st.LLMCache, f.IO.ErrOut)
		if plan, err = decompose(ctx, opts.Goal, nil); err != nil {
			return err
		}
	case opts.Decompose:
		if plan, err = opts.Data.plan(ctx, st.Store, opts.Goal); err != nil {
			return err
		}
	case plan == nil:
		r := planner.Routing{Role: opts.Agent, Skill: opts.Skill}
		if r.Skill == "" {
			if r, err = planner.Route(opts.Goal, opts.Agent, st.Skills); err != nil {
				return usageError{err}
			}
		}
		if opts.Agent == "" {
			fmt.Fprintf(f.IO.ErrOut, "routed to %s (skill %s; the text mentions %s)\n", r.Role, r.Skill, strings.Join(r.Matched, ", "))
		}
		if plan, err = planner.Single(opts.Goal, r, opts.Priority); err != nil {
			return err
		}
	}
	if err := plan.SetPriority(opts.Priority); err != nil {
		return err
	}
	if err := plan.Validate(st.Skills); err != nil {
		return usageError{err}
	}
	return submitPlan(ctx, f, st, plan, opts.Wait, opts.Output)
}

// submitPlan submits a plan as a new job and prints its id, or follows it
// to the end with --wait.
func submitPlan(ctx context.Context, f *Factory, st *stack.Stack, plan *planner.Plan, wait bool, output string) error {
	if err := st.Broker.EnsureTopology(ctx, st.Skills.Roles()); err != nil {
		return err
	}
	f.budget(plan)
	job, err := st.Submitter().Submit(ctx, plan)
	if err != nil {
		return err
	}
	if !wait {
		if output == "json" {
			return writeJSON(f.IO.Out, map[string]string{"job": job})
		}
		_, err := fmt.Fprintln(f.IO.Out, job)
		return err
	}
	fmt.Fprintf(f.IO.ErrOut, "job %s submitted: %d subtasks\n", job, len(plan.Subtasks()))
	if _, err := waitJob(ctx, st, job, f.IO.ErrOut); err != nil {
		return err
	}
	return finish(ctx, f, st, job, "", output)
}
