package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
)

// BrokerInitOptions are the inputs of `orchestrate broker init`.
type BrokerInitOptions struct {
	Roles  []string
	Output string
}

// NewCmdBroker builds `orchestrate broker init`.
func NewCmdBroker(f *Factory, runF func(context.Context, *BrokerInitOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Manage the JetStream topology: streams and consumers",
		Args:  usageArgs(cobra.NoArgs),
		Example: `  orchestrate broker init
  orchestrate broker init --roles data-science-analyst,collector --max-deliver 5 --ack-wait 30s`,
	}
	opts := &BrokerInitOptions{}
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Create or update the streams and every role's consumers, once, before workers start",
		Long: `init creates or updates ORCH_TASKS, ORCH_EVENTS and ORCH_DLQ and the durable
consumers of every role and priority with the cluster's settings
(--max-deliver, --max-deliver-role, --ack-wait). Deployments run it once
(a Helm hook Job) so that workers never race to create them. It is safe to
run again: it converges to the settings given.`,
		Example: `  orchestrate broker init --nats nats://nats:4222 --redis redis://redis:6379`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runBrokerInit(cmd.Context(), f, opts)
		},
	}
	initCmd.Flags().StringSliceVar(&opts.Roles, "roles", nil, "roles whose consumers to create (default: every role)")
	initCmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	cmd.AddCommand(initCmd)
	return cmd
}

// TopologyReport is what `broker init --output json` prints.
type TopologyReport struct {
	Streams   []string `json:"streams"`
	Consumers []string `json:"consumers"`
}

func runBrokerInit(ctx context.Context, f *Factory, opts *BrokerInitOptions) error {
	st, err := stack.Open(ctx, f.StackOptions(false))
	if err != nil {
		return err
	}
	defer st.Close()
	roles := opts.Roles
	if len(roles) == 0 {
		roles = st.Skills.Roles()
	}
	for _, r := range roles {
		if !st.Skills.HasRole(r) {
			return usagef("--roles: unknown role %q (known: %v)", r, st.Skills.Roles())
		}
	}
	if err := st.Broker.EnsureTopology(ctx, roles); err != nil {
		return err
	}
	rep := TopologyReport{Streams: []string{broker.TasksStream, broker.EventsStream, broker.DLQStream}}
	for _, r := range roles {
		for _, p := range broker.Priorities {
			rep.Consumers = append(rep.Consumers, broker.ConsumerName(r, p))
		}
	}
	if opts.Output == "json" {
		return writeJSON(f.IO.Out, rep)
	}
	cfg := st.Broker.Config()
	fmt.Fprintf(f.IO.Out, "streams %v ready\n%d consumers ready for %d roles (max deliver %d, ack wait %s)\n",
		rep.Streams, len(rep.Consumers), len(roles), cfg.MaxDeliver, cfg.AckWait)
	return nil
}
