package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/orchestrate-dev/orchestrate/collector"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
)

// CollectOptions are the inputs of `orchestrate collect`.
type CollectOptions struct {
	Job string
	Out string
}

// NewCmdCollect builds `orchestrate collect JOB --out DIR`.
func NewCmdCollect(f *Factory, runF func(context.Context, *CollectOptions) error) *cobra.Command {
	opts := &CollectOptions{}
	cmd := &cobra.Command{
		Use:     "collect JOB --out DIR",
		Short:   "Rebuild a job's project tree from the artifact store",
		Example: `  orchestrate collect ml-churn-system-20261126t010203-3fa9c1 --out ml-system`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Job = args[0]
			if opts.Out == "" {
				return usagef("--out DIR is required")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			out, err := filepath.Abs(opts.Out)
			if err != nil {
				return usagef("--out %s: %v", opts.Out, err)
			}
			if err := collector.CheckWritable(out); err != nil {
				return usagef("--out: %v", err)
			}
			st, err := stack.Open(cmd.Context(), f.StackOptions(false))
			if err != nil {
				return err
			}
			defer st.Close()
			if _, err := st.Ledger.JobSummary(cmd.Context(), opts.Job); err != nil {
				return err
			}
			tree, err := collector.Assemble(cmd.Context(), st.Store, opts.Job, out)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(f.IO.Out, "%s: %d files, %d bytes\n", tree.Dir, tree.Files, tree.Bytes)
			return err
		},
	}
	cmd.Flags().StringVar(&opts.Out, "out", "", "directory to write the tree to (must not exist or be empty)")
	return cmd
}
