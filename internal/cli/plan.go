package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/planner"
)

// PlanOptions are the inputs of `orchestrate plan`.
type PlanOptions struct {
	Goal string
	// Answers answer some of the planning questions beforehand; with Yes
	// the others take their defaults.
	Answers map[string]string
	// Yes accepts the plan without a session: no questions, no edits.
	Yes bool
	// Name is what the plan is saved as; empty means the plan's own name,
	// else one derived from the goal.
	Name string
	// Export is a plan file to write, in addition to saving the plan when
	// servers are configured.
	Export string
	// Import is a plan file to start from instead of a goal.
	Import  string
	Execute bool
	Wait    bool
	Output  string
	// Interactive is whether both the input and the output are a terminal
	// to hold the session on.
	Interactive bool
	// Planner decomposes the goal: auto, llm or builtin.
	Planner string
}

// NewCmdPlan builds `orchestrate plan GOAL`.
func NewCmdPlan(f *Factory, runF func(context.Context, *PlanOptions) error) *cobra.Command {
	opts := &PlanOptions{}
	cmd := &cobra.Command{
		Use:   "plan [GOAL] [--import FILE]",
		Short: "Plan a goal in a terminal session: answer questions, edit the phased plan, approve and save it",
		Long: `plan holds a planning session in the terminal. It asks the questions
that matter for the goal's scenario (for the churn system: data volume,
latency, retraining frequency, existing infrastructure), shows the phased
plan, and offers to add, modify or remove subtasks. Every change is checked
(an unknown role or a dependency cycle is refused, and the plan stays as it
was) and kept in the plan's history.

Proceeding approves the plan and saves it under --name (default: the plan's
own name, such as ml-churn-system) in the shared servers' Redis, then prints
the command that executes it; --execute submits it at once instead (with
--wait, follows the job). --export FILE also writes the plan file; without
servers configured, only the file is written. --import FILE starts from a
plan file instead of a goal.

--answers answers questions beforehand: a session does not ask them. For
scripts and CI, --yes accepts the plan without a session, the questions
--answers does not answer taking their defaults. Without a terminal, plan
needs --yes.`,
		Example: `  orchestrate plan "Build production ML system for customer churn prediction with real-time inference"
  orchestrate plan "Build production ML system for customer churn prediction with real-time inference" \
    --answers volume=1M,latency=100ms,retraining=weekly,infra=aws --yes
  orchestrate plan "Build production ML system for customer churn prediction with real-time inference" --yes --export ml-churn-system.yaml
  orchestrate plan --import ml-churn-system.yaml --yes --name churn-v2
  orchestrate plan "Build production ML system for customer churn prediction with real-time inference" --execute --wait`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Goal = args[0]
			}
			opts.Interactive = canPrompt(f.IO.In) && canPrompt(f.IO.Out)
			if err := opts.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runPlan(cmd.Context(), f, opts)
		},
	}
	fs := cmd.Flags()
	fs.StringToStringVar(&opts.Answers, "answers", nil, "answers to the planning questions, as KEY=VALUE,... (keys: "+strings.Join(answerKeys(), ", ")+")")
	fs.BoolVarP(&opts.Yes, "yes", "y", false, "accept the plan without questions or edits (required without a terminal)")
	fs.StringVar(&opts.Name, "name", "", "save the plan under this name (default: the plan's name, e.g. ml-churn-system)")
	fs.StringVar(&opts.Export, "export", "", "also write the approved plan to this YAML file")
	fs.StringVar(&opts.Import, "import", "", "start from this plan file (YAML) instead of a goal")
	fs.BoolVar(&opts.Execute, "execute", false, "submit the approved plan as a job at once and print the job id")
	fs.BoolVar(&opts.Wait, "wait", false, "with --execute, follow the job until it ends; exit 0 only if it succeeded")
	fs.StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	fs.StringVar(&opts.Planner, "planner", plannerAuto, "who decomposes the goal: builtin (the catalog of scenarios), llm (the planner model of --roles-config, falling back to the catalog) or auto (llm when configured)")
	_ = cmd.MarkFlagFilename("import", "yaml", "yml")
	_ = cmd.MarkFlagFilename("export", "yaml", "yml")
	return cmd
}

// check refuses what cannot mean anything, before any question is asked
// or server reached.
func (o *PlanOptions) check() error {
	known := answerKeys()
	for _, k := range slices.Sorted(maps.Keys(o.Answers)) {
		if !slices.Contains(known, k) {
			return usagef("--answers: unknown question %q (known: %s)", k, strings.Join(known, ", "))
		}
	}
	switch {
	case o.Import != "" && o.Goal != "":
		return usagef("give a goal or --import FILE, not both")
	case o.Import == "" && strings.TrimSpace(o.Goal) == "":
		return usagef("say what to plan: a goal, e.g. %q, or --import FILE", "Build production ML system for customer churn prediction with real-time inference")
	case o.Import != "" && len(o.Answers) > 0:
		return usagef("--answers answer the questions of a goal; an imported plan is already decided")
	case o.Name != "" && !broker.ValidID(o.Name):
		return usagef("--name %q: want 1-128 letters, digits, '-' or '_', starting with a letter or digit", o.Name)
	case o.Wait && !o.Execute:
		return usagef("--wait follows the job that --execute submits: add --execute")
	case !o.Yes && !o.Interactive:
		if o.Import != "" {
			return usagef("no terminal to hold the planning session on: pass --yes to save the imported plan as it is")
		}
		return usagef("no terminal to hold the planning session on: pass --yes to accept the plan, and --answers %s to answer its questions",
			"volume=1M,latency=100ms,retraining=weekly,infra=aws")
	}
	return checkOutput(o.Output)
}

// answerKeys are the planning questions' keys, in the order they are asked.
func answerKeys() []string {
	return []string{planner.AnswerVolume, planner.AnswerLatency, planner.AnswerRetraining, planner.AnswerInfra}
}

func runPlan(ctx context.Context, f *Factory, opts *PlanOptions) error {
	mode, err := f.resolvePlanner(opts.Planner)
	if err != nil {
		return err
	}
	reg, err := f.localSkills()
	if err != nil {
		return err
	}
	decompose := f.decomposer(mode, reg, nil, f.IO.ErrOut)
	var plan *planner.Plan
	// A session plans once its questions are answered; the llm planner is
	// not asked twice.
	if opts.Import != "" || opts.Yes || mode == plannerBuiltin {
		if plan, err = startingPlan(ctx, opts, decompose, mode); err != nil {
			return err
		}
	}
	// Reach the servers before the first question, so that a missing or
	// unreachable server does not waste the session.
	var st *stack.Stack
	var skills planner.Skills = reg
	if opts.Execute || opts.Export == "" || f.Globals.NATS != "" || f.Globals.Redis != "" {
		if st, err = stack.Open(ctx, f.StackOptions(false)); err != nil {
			return err
		}
		defer st.Close()
		skills = st.Skills
	}
	if opts.Import != "" {
		if err := plan.Validate(skills); err != nil {
			return fmt.Errorf("%s: %w", opts.Import, err)
		}
	}
	end := endProceed
	var s *planSession
	if !opts.Yes {
		s = newPlanSession(f.IO.In, f.IO.Out, skills, opts.Execute)
		defer s.close()
		if opts.Import == "" {
			if plan, err = s.plan(ctx, opts.Goal, opts.Answers, decompose, mode == plannerLLM); err != nil {
				return err
			}
		}
	}
	name := opts.Name
	if name == "" {
		name = plan.Name
	}
	if !broker.ValidID(name) {
		name = planner.Slug(plan.Goal)
	}
	if s != nil {
		if end, name, err = s.edit(ctx, plan, name); err != nil {
			return err
		}
		if end == endQuit {
			_, err := fmt.Fprintln(f.IO.Out, "quit: the plan was not saved")
			return err
		}
	}
	return approve(ctx, f, st, plan, name, opts, end == endProceed && opts.Execute)
}

// startingPlan is the plan before the session: the goal's plan with the
// answers given, or the imported file's.
func startingPlan(ctx context.Context, opts *PlanOptions, decompose decomposeFunc, mode string) (*planner.Plan, error) {
	if opts.Import != "" {
		data, err := os.ReadFile(opts.Import)
		if err != nil {
			return nil, usagef("--import: %v", err)
		}
		plan, err := planner.ReadYAML(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", opts.Import, err)
		}
		plan.Record(planner.ActionImported, "", "from "+opts.Import)
		return plan, nil
	}
	if mode == plannerLLM {
		return decompose(ctx, opts.Goal, opts.Answers)
	}
	// The goal alone first, so that a goal no scenario knows is not
	// reported as a wrong answer.
	if _, err := planner.Decompose(opts.Goal, nil); err != nil {
		return nil, err
	}
	plan, err := planner.Decompose(opts.Goal, opts.Answers)
	if err != nil {
		return nil, usagef("--answers: %v", answerReason(err))
	}
	return plan, nil
}

// planResult is what --output json prints for a plan that is not executed.
type planResult struct {
	Name     string `json:"name"`
	Subtasks int    `json:"subtasks"`
	Saved    bool   `json:"saved"`
	File     string `json:"file,omitempty"`
	// Command executes the plan.
	Command string `json:"command"`
}

// approve records the approval, writes the plan file, saves the plan and
// submits it when asked to.
func approve(ctx context.Context, f *Factory, st *stack.Stack, plan *planner.Plan, name string, opts *PlanOptions, execute bool) error {
	plan.Name = name
	var how []string
	if st != nil {
		how = append(how, "saved as "+name)
	}
	if opts.Export != "" {
		how = append(how, "exported to "+opts.Export)
	}
	if opts.Yes {
		how = append(how, "without a session (--yes)")
	}
	plan.Record(planner.ActionApproved, "", strings.Join(how, ", "))

	// Notes go to the error stream when the job's id or report is the
	// output.
	notes := f.IO.Out
	if execute || opts.Output == "json" {
		notes = f.IO.ErrOut
	}
	if opts.Yes && opts.Output != "json" {
		// Without a session the plan is shown once, as approved, on the
		// error stream: scripts read the outcome from the output.
		printPlan(f.IO.ErrOut, plan)
	}
	res := planResult{Name: name, Subtasks: len(plan.Subtasks()), File: opts.Export}
	if opts.Export != "" {
		data, err := planner.WriteYAML(plan)
		if err != nil {
			return err
		}
		if err := os.WriteFile(opts.Export, data, 0o644); err != nil {
			return usagef("--export: %v", err)
		}
		fmt.Fprintf(notes, "wrote %s\n", opts.Export)
		res.Command = "orchestrate submit --plan " + opts.Export
	}
	if st != nil {
		if err := planner.NewPlans(st.Redis, st.Prefix).Save(ctx, plan); err != nil {
			return err
		}
		fmt.Fprintf(notes, "saved plan %s: %d subtasks in %d phases\n", name, res.Subtasks, len(plan.Phases))
		res.Saved, res.Command = true, "orchestrate execute-plan "+name
	}
	if execute {
		return submitPlan(ctx, f, st, plan, opts.Wait, opts.Output)
	}
	if opts.Output == "json" {
		return writeJSON(f.IO.Out, res)
	}
	_, err := fmt.Fprintf(f.IO.Out, "execute it with: %s\n", res.Command)
	return err
}

// PlansOptions are the inputs of `orchestrate plans`.
type PlansOptions struct {
	Output string
}

// NewCmdPlans builds `orchestrate plans`.
func NewCmdPlans(f *Factory, runF func(context.Context, *PlansOptions) error) *cobra.Command {
	opts := &PlansOptions{}
	cmd := &cobra.Command{
		Use:     "plans",
		Short:   "List the saved plans: name, goal and subtasks",
		Example: `  orchestrate plans --output json`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch opts.Output {
			case "table", "text", "json":
			default:
				return usagef("--output %q: want table or json", opts.Output)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runPlans(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "output format: table or json")
	return cmd
}

// SavedPlan is one row of `orchestrate plans`.
type SavedPlan struct {
	Name     string `json:"name"`
	Goal     string `json:"goal"`
	Subtasks int    `json:"subtasks"`
}

func runPlans(ctx context.Context, f *Factory, opts *PlansOptions) error {
	st, err := stack.Open(ctx, f.StackOptions(false))
	if err != nil {
		return err
	}
	defer st.Close()
	plans := planner.NewPlans(st.Redis, st.Prefix)
	names, err := plans.Names(ctx)
	if err != nil {
		return err
	}
	rows := []SavedPlan{}
	for _, n := range names {
		p, err := plans.Load(ctx, n)
		if err != nil {
			return err
		}
		rows = append(rows, SavedPlan{Name: p.Name, Goal: p.Goal, Subtasks: len(p.Subtasks())})
	}
	if opts.Output == "json" {
		return writeJSON(f.IO.Out, rows)
	}
	return writePlansTable(f.IO.Out, rows)
}

func writePlansTable(w io.Writer, rows []SavedPlan) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSUBTASKS\tGOAL")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", r.Name, r.Subtasks, r.Goal)
	}
	return tw.Flush()
}
