package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/engine"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/tabular"
)

// TrainOptions are the inputs of `orchestrate train`.
type TrainOptions struct {
	Data     string
	Test     string
	Target   string
	Positive string
	Kinds    []string
	Models   []string
	Budget   string
	Seed     uint64
	Out      string
	Output   string
}

// NewCmdTrain builds `orchestrate train`.
func NewCmdTrain(f *Factory, runF func(context.Context, *TrainOptions) error) *cobra.Command {
	opts := &TrainOptions{}
	cmd := &cobra.Command{
		Use:   "train --data TRAIN.csv --target COLUMN --out DIR",
		Short: "Train and evaluate logistic regression, gradient-boosted trees and an MLP, exported as ONNX",
		Long: `train reads a CSV with a header, infers column kinds, fits the feature
step on the training split, searches each model family's parameters on a
validation split (ROC AUC), scores the best of each family once on the
test split (--test, or a stratified 15% held out), and writes
<family>.onnx, metrics.json, model_card.md, features.json and plots/*.png
into --out. --budget is trials per family (8) or a time for the whole
search (90s). Progress goes to stderr.`,
		Example: `  orchestrate train --data bank-churn-train.csv --test bank-churn-test.csv --target Exited --out model
  orchestrate datagen churn --rows 100000 --out churn.csv && orchestrate train --data churn.csv --target Exited --budget 60s --out model --output json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			for flag, v := range map[string]string{"--data": opts.Data, "--target": opts.Target, "--out": opts.Out} {
				if v == "" {
					return usagef("%s is required", flag)
				}
			}
			if err := checkOutput(opts.Output); err != nil {
				return err
			}
			if _, _, err := parseBudget(opts.Budget); err != nil {
				return err
			}
			if _, err := parseKinds(opts.Kinds); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTrain(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Data, "data", "", "training CSV (header required)")
	cmd.Flags().StringVar(&opts.Test, "test", "", "holdout CSV, used only for the final scores (default: a stratified 15% of --data)")
	cmd.Flags().StringVar(&opts.Target, "target", "", "the label column")
	cmd.Flags().StringVar(&opts.Positive, "positive", "", "the positive label when it is not 1, true or yes")
	cmd.Flags().StringSliceVar(&opts.Kinds, "kind", nil, "override a column's inferred kind, COLUMN=numeric|categorical|boolean|identifier (repeatable)")
	cmd.Flags().StringSliceVar(&opts.Models, "models", []string{"lr", "gbdt", "mlp"}, "model families to train")
	cmd.Flags().StringVar(&opts.Budget, "budget", "8", "search budget: trials per family (8) or a time for the whole search (90s)")
	cmd.Flags().Uint64Var(&opts.Seed, "seed", 42, "seed of the split, the search and the trainers")
	cmd.Flags().StringVar(&opts.Out, "out", "", "directory to write models, metrics and figures to")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text or json (the metrics.json content)")
	return cmd
}

// parseBudget reads --budget as a number of trials or a duration.
func parseBudget(s string) (trials int, budget time.Duration, err error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return n, 0, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return 1000, d, nil
	}
	return 0, 0, usagef("--budget %q: want a number of trials (8) or a duration (90s)", s)
}

// parseKinds reads --kind COLUMN=KIND overrides.
func parseKinds(specs []string) (map[string]tabular.Kind, error) {
	out := map[string]tabular.Kind{}
	for _, spec := range specs {
		col, kind, ok := strings.Cut(spec, "=")
		var k tabular.Kind
		if !ok || col == "" || k.UnmarshalText([]byte(kind)) != nil {
			return nil, usagef("--kind %q: want COLUMN=numeric, categorical, boolean or identifier", spec)
		}
		out[col] = k
	}
	return out, nil
}

func runTrain(ctx context.Context, f *Factory, opts *TrainOptions) error {
	trials, budget, _ := parseBudget(opts.Budget)
	kinds, _ := parseKinds(opts.Kinds)
	rep, err := engine.Run(ctx, engine.Options{
		Data: opts.Data, Test: opts.Test, Target: opts.Target, Positive: opts.Positive, Kinds: kinds,
		Models: opts.Models, Trials: trials, Budget: budget, Seed: opts.Seed, Out: opts.Out,
		Progress: f.IO.ErrOut,
	})
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		return writeJSON(f.IO.Out, rep)
	}
	w := f.IO.Out
	fmt.Fprintf(w, "%-6s %8s %8s %8s %8s %9s\n", "model", "ROC AUC", "PR AUC", "logloss", "Brier", "train s")
	for _, m := range rep.Models {
		mark := ""
		if m.Name == rep.Best {
			mark = "  (best on validation)"
		}
		fmt.Fprintf(w, "%-6s %8.4f %8.4f %8.4f %8.4f %9.2f%s\n", m.Name, m.Test.ROCAUC, m.Test.PRAUC, m.Test.LogLoss, m.Test.Brier, m.TrainSeconds, mark)
	}
	fmt.Fprintf(w, "written to %s (%s)\n", opts.Out, strings.Join([]string{"*.onnx", "metrics.json", "model_card.md", "features.json", "plots/"}, ", "))
	return nil
}
