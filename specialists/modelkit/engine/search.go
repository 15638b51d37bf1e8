package engine

import (
	"fmt"
	"math/rand/v2"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/gbdt"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/linear"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/mlp"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/onnxmodel"
)

// searchSpace draws the parameter sets a family tries: the family's
// defaults first, then random draws from its space, all from seed. Trees
// are searched up to depth 5: the ONNX graph pads every tree to the
// deepest, so each level doubles the serving cost of a prediction, and
// depth 6 ensembles took more than the 1 ms a single-row prediction may.
func searchSpace(family string, trials int, seed uint64) []map[string]any {
	rng := rand.New(rand.NewPCG(seed, uint64(len(family))))
	pick := func(xs ...any) any { return xs[rng.IntN(len(xs))] }
	var out []map[string]any
	switch family {
	case FamilyLR:
		for _, l2 := range []float64{1e-3, 1e-2, 1e-1, 1}[:min(4, trials)] {
			out = append(out, map[string]any{"l2": l2})
		}
	case FamilyGBDT:
		out = append(out, map[string]any{"max_depth": 4, "learning_rate": 0.05, "min_samples_leaf": 20, "l2": 1.0, "row_subsample": 1.0, "col_subsample": 1.0})
		for len(out) < trials {
			out = append(out, map[string]any{
				"max_depth": pick(3, 4, 5), "learning_rate": pick(0.03, 0.05, 0.1),
				"min_samples_leaf": pick(10, 20, 50), "l2": pick(0.5, 1.0, 5.0),
				"row_subsample": pick(0.7, 0.85, 1.0), "col_subsample": pick(0.7, 0.85, 1.0),
			})
		}
	case FamilyMLP:
		out = append(out, map[string]any{"hidden": []int{32, 16}, "learning_rate": 1e-3, "l2": 1e-4, "batch_size": 64})
		for len(out) < trials {
			out = append(out, map[string]any{
				"hidden": pick([]int{16}, []int{32}, []int{32, 16}, []int{64, 32}), "learning_rate": pick(5e-4, 1e-3, 3e-3),
				"l2": pick(1e-5, 1e-4, 1e-3), "batch_size": pick(32, 64, 128),
			})
		}
	}
	return out
}

// fit trains one candidate of a family on the training split, validating
// on the validation split where the trainer stops early.
func fit(family string, p map[string]any, d *dataset, seed uint64) (*trained, error) {
	switch family {
	case FamilyLR:
		r, err := linear.Train(d.xTrain, d.yTrain, linear.Params{L2: p["l2"].(float64)})
		if err != nil {
			return nil, err
		}
		return &trained{params: p, predict: r.Model.Predict,
			export: func(n int) ([]byte, error) { return onnxmodel.ExportLinear(r.Model, n) }}, nil
	case FamilyGBDT:
		r, err := gbdt.Train(d.xTrain, d.yTrain, d.xVal, d.yVal, gbdt.Params{
			MaxDepth: p["max_depth"].(int), LearningRate: p["learning_rate"].(float64),
			MinSamplesLeaf: p["min_samples_leaf"].(int), L2: p["l2"].(float64),
			RowSubsample: p["row_subsample"].(float64), ColSubsample: p["col_subsample"].(float64),
		}, seed)
		if err != nil {
			return nil, err
		}
		out := clone(p)
		out["trees"] = len(r.Model.Trees)
		return &trained{params: out, predict: r.Model.Predict,
			export: func(n int) ([]byte, error) { return onnxmodel.ExportEnsemble(r.Model, n) }}, nil
	case FamilyMLP:
		r, err := mlp.Train(d.xTrain, d.yTrain, d.xVal, d.yVal, mlp.Params{
			Hidden: p["hidden"].([]int), LearningRate: p["learning_rate"].(float64),
			L2: p["l2"].(float64), BatchSize: p["batch_size"].(int),
		}, seed)
		if err != nil {
			return nil, err
		}
		out := clone(p)
		out["best_epoch"] = r.BestEpoch
		return &trained{params: out, predict: r.Model.Predict,
			export: func(int) ([]byte, error) { return onnxmodel.ExportMLP(r.Model) }}, nil
	}
	return nil, fmt.Errorf("%w: unknown model family %q", ErrUsage, family)
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
