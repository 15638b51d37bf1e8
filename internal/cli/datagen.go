package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/synth"
)

// DatagenOptions are the inputs of `orchestrate datagen churn`.
type DatagenOptions struct {
	Rows int
	Seed uint64
	Out  string
}

// NewCmdDatagen builds `orchestrate datagen`.
func NewCmdDatagen(f *Factory, runF func(context.Context, *DatagenOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "datagen",
		Short:   "Generate synthetic data sets",
		Example: `  orchestrate datagen churn --rows 1000000 --seed 42 --out churn.csv`,
	}
	opts := &DatagenOptions{}
	churn := &cobra.Command{
		Use:   "churn --rows N --seed S --out FILE.csv",
		Short: "Write synthetic customers with a churn label, streamed to disk",
		Long: `datagen churn writes customers with user, transaction and engagement
attributes and an Exited label whose signal is non-linear (interactions,
thresholds, a U-shape in age) with noise. The same rows and seed give the
same bytes. The file appears only when complete.`,
		Example: `  orchestrate datagen churn --rows 1000000 --seed 42 --out churn.csv`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Rows < 1 {
				return usagef("--rows %d: want at least 1", opts.Rows)
			}
			if opts.Out == "" {
				return usagef("--out FILE is required")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runDatagenChurn(f, opts)
		},
	}
	churn.Flags().IntVar(&opts.Rows, "rows", 10000, "customers to generate")
	churn.Flags().Uint64Var(&opts.Seed, "seed", 42, "random seed")
	churn.Flags().StringVar(&opts.Out, "out", "", "CSV file to write")
	cmd.AddCommand(churn)
	return cmd
}

func runDatagenChurn(f *Factory, opts *DatagenOptions) error {
	dir := filepath.Dir(opts.Out)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(opts.Out)+".tmp-*")
	if err != nil {
		return usagef("--out %s: %v", opts.Out, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this is a no-op
	if err := synth.Churn(tmp, opts.Rows, opts.Seed); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", opts.Out, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", opts.Out, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", opts.Out, err)
	}
	if err := os.Rename(tmp.Name(), opts.Out); err != nil {
		return fmt.Errorf("write %s: %w", opts.Out, err)
	}
	_, err = fmt.Fprintf(f.IO.ErrOut, "wrote %d customers to %s\n", opts.Rows, opts.Out)
	return err
}
