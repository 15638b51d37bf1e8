package onnxmodel

import (
	"fmt"
	"math"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
)

// stepScale is 2^127, applied twice: the smallest positive float32 margin
// (2^-149) becomes 2^105, whose Tanh is exactly 1 in float32, while a zero
// margin stays 0 and a negative one goes to -1.
const stepScale = 0x1p127

// ExportEnsemble writes e as a fixed sequence of dense ops over all trees
// at once (the "GEMM formulation"), because gonnx v1.1.0 has neither the
// ai.onnx.ml TreeEnsemble operators nor usable Less/Where/Cast:
//
//	margin   = Gemm(features, S, T)            [N, K]  T[k] − x[feature(k)]
//	goLeft   = Relu(Tanh(margin·2^127·2^127))  [N, K]  1 if x < T[k], else 0
//	score    = Gemm(goLeft, A, C)              [N, L]
//	onehot   = Relu(score)                     [N, L]  1 on the reached leaf
//	logit    = Gemm(onehot, V, base)           [N, 1]
//	probability = Sigmoid(logit)
//
// K counts internal nodes and L leaves over all trees. S [F, K] holds −1
// at (feature(k), k). A [K, L] holds +1 when the leaf lies under node k's
// left child, −1 under its right child, 0 otherwise; C[ℓ] = 1 − (number
// of left turns on the path to ℓ). For leaf ℓ with l left and r right
// turns, goLeft·A ranges over the integers in [−r, l] and reaches l only
// when every turn is taken, so score is 1 on the path and at most 0 off
// it. All of these values are small integers, exact in float32.
//
// Thresholds are rounded up to float32 (see thresholdFloat32), so every
// float32-representable input takes the same branch as modelkit's float64
// walk. Leaf values and base are rounded to float32; trees that are a
// single leaf are folded into base.
func ExportEnsemble(e *modelkit.Ensemble, nFeatures int) ([]byte, error) {
	if e == nil {
		return nil, fmt.Errorf("export ensemble: nil model: %w", ErrInvalidModel)
	}
	if nFeatures <= 0 {
		return nil, fmt.Errorf("export ensemble: nFeatures is %d, must be positive: %w", nFeatures, ErrInvalidModel)
	}
	f, err := flatten(e, nFeatures)
	if err != nil {
		return nil, fmt.Errorf("export ensemble: %w", err)
	}

	var g graphBuilder
	var logit string
	if len(f.splits) == 0 {
		// Every tree is a single leaf: the logit is a constant.
		logit = g.gemm("logit", inputName,
			g.constant("weights", []int64{int64(nFeatures), 1}, make([]float32, nFeatures)),
			g.constant("base", []int64{1}, []float32{float32(f.base)}))
	} else {
		logit = f.addGraph(&g, nFeatures)
	}
	g.op("Sigmoid", outputName, logit)
	doc := fmt.Sprintf("modelkit tree ensemble, %d trees, %d splits, %d leaves over %d features: "+
		"probability = Sigmoid(base + sum of reached leaf values); thresholds rounded up to float32",
		len(e.Trees), len(f.splits), len(f.leaves), nFeatures)
	return g.model(familyEnsemble, doc, nFeatures)
}

// split is one internal node of some tree.
type split struct {
	feature   int
	threshold float32
}

// turn is one step on the path from a root to a leaf.
type turn struct {
	split int // index into flatEnsemble.splits
	left  bool
}

type leaf struct {
	value float64
	path  []turn
}

// flatEnsemble is every tree's internal nodes and leaves, numbered across
// the whole ensemble.
type flatEnsemble struct {
	splits []split
	leaves []leaf
	base   float64
}

func flatten(e *modelkit.Ensemble, nFeatures int) (*flatEnsemble, error) {
	f := &flatEnsemble{base: e.Base}
	for ti := range e.Trees {
		t := &e.Trees[ti]
		if len(t.Nodes) == 0 {
			return nil, fmt.Errorf("tree %d has no nodes: %w", ti, ErrInvalidModel)
		}
		if t.Nodes[0].Leaf {
			f.base += t.Nodes[0].Value
			continue
		}
		seen := make([]bool, len(t.Nodes))
		if err := f.walk(t, 0, nil, seen, nFeatures); err != nil {
			return nil, fmt.Errorf("tree %d: %w", ti, err)
		}
	}
	return f, nil
}

// walk adds the subtree at node i, reached by path, to f.
func (f *flatEnsemble) walk(t *modelkit.Tree, i int, path []turn, seen []bool, nFeatures int) error {
	if i < 0 || i >= len(t.Nodes) {
		return fmt.Errorf("child index %d out of range [0, %d): %w", i, len(t.Nodes), ErrInvalidModel)
	}
	if seen[i] {
		return fmt.Errorf("node %d is reached twice: %w", i, ErrInvalidModel)
	}
	seen[i] = true
	n := &t.Nodes[i]
	if n.Leaf {
		f.leaves = append(f.leaves, leaf{value: n.Value, path: path})
		return nil
	}
	if n.Feature < 0 || n.Feature >= nFeatures {
		return fmt.Errorf("node %d splits on feature %d of %d: %w", i, n.Feature, nFeatures, ErrInvalidModel)
	}
	k := len(f.splits)
	f.splits = append(f.splits, split{feature: n.Feature, threshold: thresholdFloat32(n.Threshold)})
	// Full slice expressions so the two subtrees never share a backing array.
	left := append(path[:len(path):len(path)], turn{split: k, left: true})
	if err := f.walk(t, n.Left, left, seen, nFeatures); err != nil {
		return err
	}
	right := append(path[:len(path):len(path)], turn{split: k, left: false})
	return f.walk(t, n.Right, right, seen, nFeatures)
}

// addGraph adds the split and leaf layers to g and returns the logit.
func (f *flatEnsemble) addGraph(g *graphBuilder, nFeatures int) string {
	nk, nl := len(f.splits), len(f.leaves)
	sel := make([]float32, nFeatures*nk)
	thr := make([]float32, nk)
	for k, s := range f.splits {
		sel[s.feature*nk+k] = -1
		thr[k] = s.threshold
	}
	paths := make([]float32, nk*nl)
	offset := make([]float32, nl)
	values := make([]float32, nl)
	for l, lf := range f.leaves {
		lefts := 0
		for _, tn := range lf.path {
			if tn.left {
				paths[tn.split*nl+l] = 1
				lefts++
			} else {
				paths[tn.split*nl+l] = -1
			}
		}
		offset[l] = float32(1 - lefts)
		values[l] = float32(lf.value)
	}

	scale := g.constant("step_scale", []int64{1}, []float32{stepScale})
	margin := g.gemm("split_margin", inputName,
		g.constant("split_selector", []int64{int64(nFeatures), int64(nk)}, sel),
		g.constant("split_threshold", []int64{int64(nk)}, thr))
	scaled := g.op("Mul", "split_margin_scaled", g.op("Mul", "split_margin_half_scaled", margin, scale), scale)
	goLeft := g.op("Relu", "go_left", g.op("Tanh", "split_sign", scaled))
	score := g.gemm("leaf_score", goLeft,
		g.constant("leaf_paths", []int64{int64(nk), int64(nl)}, paths),
		g.constant("leaf_offset", []int64{int64(nl)}, offset))
	onehot := g.op("Relu", "leaf_onehot", score)
	return g.gemm("logit", onehot,
		g.constant("leaf_values", []int64{int64(nl), 1}, values),
		g.constant("base", []int64{1}, []float32{float32(f.base)}))
}

// thresholdFloat32 returns the float32 threshold u such that, for every
// float32 x, x < u exactly when x < t: t itself when representable,
// otherwise the next float32 above t (below it, a float32 lying between
// the rounded and the true threshold would switch branches). A NaN
// threshold sends everything right in modelkit (x < NaN is false), so it
// becomes −Inf.
func thresholdFloat32(t float64) float32 {
	if math.IsNaN(t) {
		return float32(math.Inf(-1))
	}
	u := float32(t)
	if float64(u) < t {
		u = math.Nextafter32(u, float32(math.Inf(1)))
	}
	return u
}
