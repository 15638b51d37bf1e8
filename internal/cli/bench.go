package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/orchestrate-dev/orchestrate/internal/bench"
)

// BenchOptions are the inputs of `orchestrate bench`.
type BenchOptions struct {
	Tasks       int
	Concurrency int
	Rate        int
	Rounds      int
	Output      string
	CPUProfile  string
}

// NewCmdBench builds `orchestrate bench`.
func NewCmdBench(f *Factory, runF func(context.Context, *BenchOptions) error) *cobra.Command {
	opts := &BenchOptions{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure task throughput against raw JetStream, and submit-to-start latency",
		Long: `bench runs, in one process and against the same servers (embedded unless
--nats/--redis are given): N messages through raw JetStream publish, consume
and ack; N diag/noop tasks through the full lifecycle (ledger, artifact
write, events, release); then tasks released one by one at --rate per second,
timing each from release to the start of its execution.`,
		Example: `  orchestrate bench
  orchestrate bench --tasks 50000 --concurrency 128 --output json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Tasks < 1 || opts.Concurrency < 1 || opts.Rate < 1 || opts.Rounds < 1 {
				return usagef("--tasks, --concurrency, --rate and --rounds must be at least 1")
			}
			if err := checkOutput(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runBench(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().IntVar(&opts.Tasks, "tasks", 20000, "tasks per throughput phase")
	cmd.Flags().IntVar(&opts.Concurrency, "concurrency", 256, "consumers and agents working at once")
	cmd.Flags().IntVar(&opts.Rate, "rate", 1000, "tasks per second in the latency phase")
	cmd.Flags().IntVar(&opts.Rounds, "rounds", 5, "rounds of the two throughput phases, run alternately; medians are reported")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&opts.CPUProfile, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	return cmd
}

func runBench(ctx context.Context, f *Factory, opts *BenchOptions) error {
	st, err := openPrivate(ctx, f, "bench-")
	if err != nil {
		return err
	}
	defer st.Close()
	if opts.CPUProfile != "" {
		pf, err := os.Create(opts.CPUProfile)
		if err != nil {
			return usagef("--cpuprofile: %v", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	var progress io.Writer = f.IO.ErrOut
	res, err := bench.Run(ctx, st, bench.Options{Tasks: opts.Tasks, Concurrency: opts.Concurrency, Rate: opts.Rate, Rounds: opts.Rounds, Log: f.Logger()}, progress)
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		return writeJSON(f.IO.Out, res)
	}
	w := f.IO.Out
	fmt.Fprintf(w, "tasks:                 %d per phase, concurrency %d, %d rounds (medians)\n", res.Tasks, res.Concurrency, res.Rounds)
	fmt.Fprintf(w, "raw JetStream:         %.0f tasks/s\n", res.RawPerSec)
	fmt.Fprintf(w, "full lifecycle:        %.0f tasks/s\n", res.FullPerSec)
	fmt.Fprintf(w, "ratio:                 %.2f (median of the rounds' ratios)\n", res.Ratio)
	fmt.Fprintf(w, "submit->start at %d/s: p50 %.3f ms, p99 %.3f ms (max %.3f ms, %d tasks)\n",
		res.PacedRate, res.SubmitStartP50, res.SubmitStartP99, res.SubmitStartMax, res.PacedTasks)
	return nil
}
