package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"
)

// WorkerOptions are the inputs of `orchestrate worker`.
type WorkerOptions struct {
	Roles     []string
	MaxAgents int
	Grace     time.Duration
	// HTTP is the address of /healthz, /readyz and /metrics; empty
	// serves none.
	HTTP string
}

// NewCmdWorker builds `orchestrate worker`.
func NewCmdWorker(f *Factory, runF func(context.Context, *WorkerOptions) error) *cobra.Command {
	opts := &WorkerOptions{}
	cmd := &cobra.Command{
		Use:   "worker --roles R1,R2 --max-agents N",
		Short: "Run an agent pool for some roles against shared servers (for deployments)",
		Long: `worker serves the given roles with up to --max-agents tasks at once until
SIGINT or SIGTERM; then it stops fetching, lets running tasks finish within
--grace, hands the rest back to the queue and exits 0.`,
		Example: `  orchestrate worker --roles data-pipeline-engineer,data-science-analyst --max-agents 4
  orchestrate worker --roles collector --max-agents 1 --nats nats://nats:4222 --redis redis://redis:6379
  orchestrate worker --roles data-science-analyst --http :8080`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(opts.Roles) == 0 {
				return usagef("--roles is required (e.g. --roles ml-systems-architect,collector)")
			}
			if opts.MaxAgents < 1 {
				return usagef("--max-agents %d: want at least 1", opts.MaxAgents)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return serve(cmd.Context(), f, serveOptions{roles: opts.Roles, maxAgents: opts.MaxAgents, grace: opts.Grace, http: opts.HTTP})
		},
	}
	cmd.Flags().StringSliceVar(&opts.Roles, "roles", nil, "roles to serve, comma-separated")
	cmd.Flags().IntVar(&opts.MaxAgents, "max-agents", 4, "tasks run at once")
	cmd.Flags().DurationVar(&opts.Grace, "grace", 30*time.Second, "on SIGTERM, how long running tasks may finish before they are handed back")
	cmd.Flags().StringVar(&opts.HTTP, "http", "", "serve /healthz, /readyz and /metrics (Prometheus) on this address, e.g. :8080")
	return cmd
}
