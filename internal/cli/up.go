package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/orchestrate-dev/orchestrate/internal/stack"
)

// UpOptions are the inputs of `orchestrate up`.
type UpOptions struct {
	NATSPort  int
	RedisPort int
}

// Default ports of `orchestrate up`: not the standard 4222 and 6379, which
// other servers on the machine may hold.
const (
	DefaultUpNATSPort  = 14222
	DefaultUpRedisPort = 16379
)

// NewCmdUp builds `orchestrate up`.
func NewCmdUp(f *Factory, runF func(context.Context, *UpOptions) error) *cobra.Command {
	opts := &UpOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Keep a local stack (embedded NATS and Redis) running for other terminals",
		Long: `up starts an embedded NATS server with JetStream and a Redis server
(redis-server when installed, else the in-process miniredis) on loopback
ports, creates the streams and consumers, prints the environment lines that
point other terminals at them, and stays up until interrupted.`,
		Example: `  orchestrate up
  orchestrate up --nats-port 24222 --redis-port 26379 --data-dir /tmp/orch
  # then, in another terminal, paste the two printed export lines`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runUp(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().IntVar(&opts.NATSPort, "nats-port", DefaultUpNATSPort, "NATS client port (0 picks a free one)")
	cmd.Flags().IntVar(&opts.RedisPort, "redis-port", DefaultUpRedisPort, "Redis port (0 picks a free one)")
	return cmd
}

func runUp(ctx context.Context, f *Factory, opts *UpOptions) error {
	so := f.StackOptions(true)
	so.NATSURL, so.RedisURL = "", ""
	so.DataDir = filepath.Join(f.Globals.DataDir, "stack")
	so.NATSPort, so.RedisPort = opts.NATSPort, opts.RedisPort
	so.Persist = true
	st, err := stack.Open(ctx, so)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Broker.EnsureTopology(ctx, st.Skills.Roles()); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.Out, "export ORCHESTRATE_NATS_URL=%s\n", st.NATSURL)
	fmt.Fprintf(f.IO.Out, "export ORCHESTRATE_REDIS_URL=%s\n", st.RedisURL)
	fmt.Fprintf(f.IO.ErrOut, "local stack up (nats with JetStream, %s; data in %s); interrupt to stop\n", st.EmbeddedRedis, so.DataDir)
	<-ctx.Done()
	fmt.Fprintln(f.IO.ErrOut, "stopping local stack")
	return nil
}
