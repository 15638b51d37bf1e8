package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/orchestrate-dev/orchestrate/collector"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/workers"
)

// RunOptions are the inputs of `orchestrate run`.
type RunOptions struct {
	Goal      string
	MaxAgents int
	Out       string
	Output    string
	Roles     []string
	Grace     time.Duration
	Data      DataOptions
}

// NewCmdRun builds `orchestrate run [GOAL]`.
func NewCmdRun(f *Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{}
	cmd := &cobra.Command{
		Use:   "run [GOAL]",
		Short: "Plan a goal, execute it with local agents and collect the tested tree; without a goal, serve as an agent pool",
		Long: `With a goal, run plans it without questions, executes the plan with
--max-agents local agents, collects the project tree into --out and exits 0
only when the tree's own tests passed. The models train on --data (and
--test) with label --target, or on --rows synthetic customers. Without --nats/--redis it starts
embedded servers, so nothing needs to be installed.

Without a goal, run serves every specialist role and the collector (or
--roles) as an agent pool against the configured servers until
interrupted.`,
		Example: `  orchestrate run "Build production ML system for customer churn prediction with real-time inference" --max-agents 4 --out ml-system
  orchestrate run "Build production ML system for customer churn prediction with real-time inference" --data bank-churn-train.csv --test bank-churn-test.csv --target Exited --out ml-system
  orchestrate run "Build production ML system for customer churn prediction with real-time inference" --out ml-system --output json
  orchestrate run --max-agents 4`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if strings.TrimSpace(args[0]) == "" {
					return usagef("the goal is empty: say what to build, or give no goal to serve as an agent pool")
				}
				opts.Goal = args[0]
			}
			if opts.MaxAgents < 1 {
				return usagef("--max-agents %d: want at least 1", opts.MaxAgents)
			}
			if err := checkOutput(opts.Output); err != nil {
				return err
			}
			if opts.Goal != "" && opts.Out == "" {
				return usagef("--out DIR is required with a goal: the directory the project tree is written to")
			}
			if err := opts.Data.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			if opts.Goal == "" {
				return serve(cmd.Context(), f, serveOptions{roles: opts.Roles, maxAgents: opts.MaxAgents, grace: opts.Grace})
			}
			return runGoal(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().IntVar(&opts.MaxAgents, "max-agents", 4, "tasks run at once")
	cmd.Flags().StringVar(&opts.Out, "out", "", "directory to write the project tree to (must not exist or be empty)")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringSliceVar(&opts.Roles, "roles", nil, "roles to serve without a goal (default: all)")
	cmd.Flags().DurationVar(&opts.Grace, "grace", 30*time.Second, "on interrupt, how long running tasks may finish before they are handed back")
	opts.Data.addFlags(cmd.Flags())
	return cmd
}

func runGoal(ctx context.Context, f *Factory, opts *RunOptions) error {
	out, err := filepath.Abs(opts.Out)
	if err != nil {
		return usagef("--out %s: %v", opts.Out, err)
	}
	if err := collector.CheckWritable(out); err != nil {
		return usagef("--out: %v", err)
	}
	// Plan before starting servers, so that a goal no scenario knows fails
	// fast; the data's digests come once the store is up.
	if _, err := planner.DecomposeData(opts.Goal, nil, planner.Dataset{Rows: opts.Data.Rows}); err != nil {
		return err
	}
	st, err := openPrivate(ctx, f, "run-")
	if err != nil {
		return err
	}
	defer st.Close()
	plan, err := opts.Data.plan(ctx, st.Store, opts.Goal)
	if err != nil {
		return err
	}
	if err := plan.Validate(st.Skills); err != nil {
		return err
	}
	if err := st.Broker.EnsureTopology(ctx, st.Skills.Roles()); err != nil {
		return err
	}
	pool, err := workers.NewPool(st.PoolDeps(f.Logger()), workers.Config{Roles: st.Skills.Roles(), MaxAgents: opts.MaxAgents, Grace: opts.Grace})
	if err != nil {
		return err
	}
	if err := pool.Start(ctx); err != nil {
		return err
	}
	defer pool.Shutdown(context.Background())

	f.budget(plan)
	job, err := st.Submitter().Submit(ctx, plan)
	if err != nil {
		return err
	}
	fmt.Fprintf(f.IO.ErrOut, "job %s: %d subtasks, %d agents\n", job, len(plan.Subtasks()), opts.MaxAgents)
	js, err := waitJob(ctx, st, job, f.IO.ErrOut)
	if err != nil {
		return err
	}
	pool.Shutdown(ctx)
	if js.State == planner.JobSucceeded {
		if _, err := collector.Assemble(ctx, st.Store, job, out); err != nil {
			return fmt.Errorf("collect job %s into %s: %w", job, out, err)
		}
	} else {
		out = ""
	}
	return finish(ctx, f, st, job, out, opts.Output)
}

// serveOptions are how an agent pool serves.
type serveOptions struct {
	roles     []string
	maxAgents int
	grace     time.Duration
	// http, when set, is the address of /healthz, /readyz and /metrics.
	http string
}

// serve runs an agent pool until ctx is cancelled, then shuts it down
// gracefully.
func serve(ctx context.Context, f *Factory, o serveOptions) error {
	cfg := workers.Config{Roles: o.roles, MaxAgents: o.maxAgents, Grace: o.grace}
	var ep *endpoints
	if o.http != "" {
		var err error
		if ep, err = startEndpoints(o.http); err != nil {
			return err
		}
		defer ep.close()
		cfg.Observer = ep.metrics
	}
	st, err := stack.Open(ctx, f.StackOptions(false))
	if err != nil {
		return err
	}
	defer st.Close()
	if len(cfg.Roles) == 0 {
		// Every role of users' plans; the diagnostic role of tests and
		// benchmarks is served only when named.
		for _, r := range st.Skills.Roles() {
			if r != specialists.RoleDiag {
				cfg.Roles = append(cfg.Roles, r)
			}
		}
	}
	for _, r := range cfg.Roles {
		if !st.Skills.HasRole(r) {
			return usagef("--roles: unknown role %q (known: %v)", r, st.Skills.Roles())
		}
	}
	if err := st.Broker.EnsureTopology(ctx, cfg.Roles); err != nil {
		return err
	}
	pool, err := workers.NewPool(st.PoolDeps(f.Logger()), cfg)
	if err != nil {
		return err
	}
	if err := pool.Start(ctx); err != nil {
		return err
	}
	if ep != nil {
		ep.serving(st)
	}
	f.Logger().Info("agents serving", zap.Strings("roles", cfg.Roles), zap.Int("agents", cfg.MaxAgents))
	fmt.Fprintf(f.IO.ErrOut, "serving %v with %d agents; interrupt to stop\n", cfg.Roles, cfg.MaxAgents)
	<-ctx.Done()
	if ep != nil {
		ep.draining()
	}
	fmt.Fprintf(f.IO.ErrOut, "stopping: finishing running tasks (up to %s)\n", o.grace)
	pool.Shutdown(context.Background())
	return nil
}

// openPrivate opens the configured servers, or embedded ones in a private
// data directory (removed by Close), so that runs side by side and a
// running `orchestrate up` never share a store.
func openPrivate(ctx context.Context, f *Factory, pattern string) (*stack.Stack, error) {
	so := f.StackOptions(true)
	if so.NATSURL != "" && so.RedisURL != "" {
		return stack.Open(ctx, so)
	}
	if err := os.MkdirAll(f.Globals.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	dir, err := os.MkdirTemp(f.Globals.DataDir, pattern)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	so.DataDir = dir
	st, err := stack.Open(ctx, so)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	st.OnClose(func() { _ = os.RemoveAll(dir) })
	return st, nil
}
