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

// maxPaddedDepth bounds the depth of an exported tree: every tree is
// padded to a complete tree of the ensemble's maximum depth D, 2^D − 1
// splits and 2^D leaves each, and the shared path matrix has
// (2^D − 1)·2^D entries, 64 MB at depth 12.
const maxPaddedDepth = 12

// ExportEnsemble writes e as a fixed sequence of dense ops (the "GEMM
// formulation"), because gonnx v1.1.0 has neither the ai.onnx.ml
// TreeEnsemble operators nor usable Less/Where/Cast.
//
// Every tree is first padded to a complete binary tree of depth D, the
// ensemble's maximum depth: K = 2^D − 1 splits and L = 2^D leaves in heap
// order (node j has children 2j+1 and 2j+2; leaf p is heap node K+p). A
// leaf at depth d < D becomes a complete subtree whose splits read no
// feature and have threshold −Inf (so they always go right) and whose
// leaves all carry its value. All T trees then share one shape, and with
// it one path matrix, so the graph is
//
//	margin   = Gemm(features, S, Thr)          [N, T·K]  Thr[k] − x[feature(k)]
//	goLeft   = Relu(Tanh(margin·2^127·2^127))  [N, T·K]  1 if x < Thr[k], else 0
//	perTree  = Reshape(goLeft)                 [N·T, K]  one row per (row, tree)
//	score    = Gemm(perTree, A, C)             [N·T, L]
//	onehot   = Relu(score)                     [N·T, L]  1 on the reached leaf
//	leaves   = Reshape(onehot)                 [N, T·L]
//	logit    = Gemm(leaves, V, base)           [N, 1]    base + Σ reached values
//	probability = Sigmoid(logit)
//
// S [F, T·K] holds −1 at (feature(k), k) and nothing in a padding split's
// column; Thr [T·K] the thresholds; V [T·L, 1] the leaf values, tree by
// tree. A [K, L] holds +1 when leaf ℓ lies under node k's left child, −1
// under its right child, 0 otherwise; C[ℓ] = 1 − (number of left turns on
// the path to ℓ). For leaf ℓ with l left and r right turns, goLeft·A
// ranges over the integers in [−r, l] and reaches l only when every turn
// is taken, so score is 1 on the path and at most 0 off it. All of these
// values are small integers, exact in float32. The file holds
// F·T·K + T·K + T·L + K·L + L + 1 floats: linear in the number of trees.
//
// Thresholds are rounded up to float32 (see thresholdFloat32), so every
// float32-representable input takes the same branch as modelkit's float64
// walk. Leaf values and base are rounded to float32; trees that are a
// single leaf are folded into base. A tree deeper than 12 is rejected.
func ExportEnsemble(e *modelkit.Ensemble, nFeatures int) ([]byte, error) {
	if e == nil {
		return nil, fmt.Errorf("export ensemble: nil model: %w", ErrInvalidModel)
	}
	if nFeatures <= 0 {
		return nil, fmt.Errorf("export ensemble: nFeatures is %d, must be positive: %w", nFeatures, ErrInvalidModel)
	}
	p, err := pad(e, nFeatures)
	if err != nil {
		return nil, fmt.Errorf("export ensemble: %w", err)
	}

	var g graphBuilder
	var logit string
	if len(p.trees) == 0 {
		// Every tree is a single leaf: the logit is a constant.
		logit = g.gemm("logit", inputName,
			g.constant("weights", []int64{int64(nFeatures), 1}, make([]float32, nFeatures)),
			g.constant("base", []int64{1}, []float32{float32(p.base)}))
	} else {
		logit = p.addGraph(&g, nFeatures)
	}
	g.op("Sigmoid", outputName, logit)
	doc := fmt.Sprintf("modelkit tree ensemble, %d trees, %d splits, %d leaves over %d features, "+
		"%d trees padded to depth %d: probability = Sigmoid(base + sum of reached leaf values); "+
		"thresholds rounded up to float32",
		len(e.Trees), p.splits, p.leaves, nFeatures, len(p.trees), p.depth)
	return g.model(familyEnsemble, doc, nFeatures)
}

// paddedTree is one tree as a complete binary tree of depth D in heap
// order.
type paddedTree struct {
	feature   []int     // [K]; -1 for a padding split, which reads no feature
	threshold []float32 // [K]
	value     []float64 // [L]
}

// paddedEnsemble is every tree that is not a single leaf, padded to the
// common depth.
type paddedEnsemble struct {
	depth          int // D
	trees          []paddedTree
	base           float64
	splits, leaves int // in the trees as given, before padding
}

func pad(e *modelkit.Ensemble, nFeatures int) (*paddedEnsemble, error) {
	p := &paddedEnsemble{base: e.Base}
	var kept []*modelkit.Tree
	for ti := range e.Trees {
		t := &e.Trees[ti]
		if len(t.Nodes) == 0 {
			return nil, fmt.Errorf("tree %d has no nodes: %w", ti, ErrInvalidModel)
		}
		if t.Nodes[0].Leaf {
			p.base += t.Nodes[0].Value
			continue
		}
		seen := make([]bool, len(t.Nodes))
		depth, err := p.check(t, 0, seen, nFeatures)
		if err != nil {
			return nil, fmt.Errorf("tree %d: %w", ti, err)
		}
		if depth > maxPaddedDepth {
			return nil, fmt.Errorf("tree %d has depth %d, at most %d can be exported: %w",
				ti, depth, maxPaddedDepth, ErrInvalidModel)
		}
		p.depth = max(p.depth, depth)
		kept = append(kept, t)
	}
	nk, nl := 1<<p.depth-1, 1<<p.depth
	for _, t := range kept {
		pt := paddedTree{
			feature:   make([]int, nk),
			threshold: make([]float32, nk),
			value:     make([]float64, nl),
		}
		pt.fill(t, 0, 0)
		p.trees = append(p.trees, pt)
	}
	return p, nil
}

// check validates the subtree at node i, counts its splits and leaves,
// and returns its depth (0 for a leaf).
func (p *paddedEnsemble) check(t *modelkit.Tree, i int, seen []bool, nFeatures int) (int, error) {
	if i < 0 || i >= len(t.Nodes) {
		return 0, fmt.Errorf("child index %d out of range [0, %d): %w", i, len(t.Nodes), ErrInvalidModel)
	}
	if seen[i] {
		return 0, fmt.Errorf("node %d is reached twice: %w", i, ErrInvalidModel)
	}
	seen[i] = true
	n := &t.Nodes[i]
	if n.Leaf {
		p.leaves++
		return 0, nil
	}
	if n.Feature < 0 || n.Feature >= nFeatures {
		return 0, fmt.Errorf("node %d splits on feature %d of %d: %w", i, n.Feature, nFeatures, ErrInvalidModel)
	}
	p.splits++
	dl, err := p.check(t, n.Left, seen, nFeatures)
	if err != nil {
		return 0, err
	}
	dr, err := p.check(t, n.Right, seen, nFeatures)
	if err != nil {
		return 0, err
	}
	return 1 + max(dl, dr), nil
}

// fill writes the subtree at node i of t (already checked) to heap
// position h.
func (pt *paddedTree) fill(t *modelkit.Tree, i, h int) {
	n := &t.Nodes[i]
	if n.Leaf {
		pt.fillLeaf(h, n.Value)
		return
	}
	pt.feature[h] = n.Feature
	pt.threshold[h] = thresholdFloat32(n.Threshold)
	pt.fill(t, n.Left, 2*h+1)
	pt.fill(t, n.Right, 2*h+2)
}

// fillLeaf writes a leaf of value v at heap position h: past the splits
// it is one of the L leaves; above them, a padding split that always goes
// right, over two copies of the leaf.
func (pt *paddedTree) fillLeaf(h int, v float64) {
	nk := len(pt.feature)
	if h >= nk {
		pt.value[h-nk] = v
		return
	}
	pt.feature[h] = -1
	pt.threshold[h] = float32(math.Inf(-1))
	pt.fillLeaf(2*h+1, v)
	pt.fillLeaf(2*h+2, v)
}

// addGraph adds the split and leaf layers to g and returns the logit.
func (p *paddedEnsemble) addGraph(g *graphBuilder, nFeatures int) string {
	nt, nk, nl := len(p.trees), 1<<p.depth-1, 1<<p.depth
	cols := nt * nk
	sel := make([]float32, nFeatures*cols)
	thr := make([]float32, cols)
	values := make([]float32, nt*nl)
	for ti, pt := range p.trees {
		for j, f := range pt.feature {
			k := ti*nk + j
			if f >= 0 {
				sel[f*cols+k] = -1
			}
			thr[k] = pt.threshold[j]
		}
		for l, v := range pt.value {
			values[ti*nl+l] = float32(v)
		}
	}
	// The path matrix of the complete tree, shared by every tree.
	paths := make([]float32, nk*nl)
	offset := make([]float32, nl)
	for l := range nl {
		lefts := 0
		for h := nk + l; h > 0; h = (h - 1) / 2 {
			parent := (h - 1) / 2
			if h == 2*parent+1 {
				paths[parent*nl+l] = 1
				lefts++
			} else {
				paths[parent*nl+l] = -1
			}
		}
		offset[l] = float32(1 - lefts)
	}

	scale := g.constant("step_scale", []int64{1}, []float32{stepScale})
	margin := g.gemm("split_margin", inputName,
		g.constant("split_selector", []int64{int64(nFeatures), int64(cols)}, sel),
		g.constant("split_threshold", []int64{int64(cols)}, thr))
	scaled := g.op("Mul", "split_margin_scaled", g.op("Mul", "split_margin_half_scaled", margin, scale), scale)
	goLeft := g.op("Relu", "go_left", g.op("Tanh", "split_sign", scaled))
	perTree := g.op("Reshape", "go_left_per_tree", goLeft, g.shape("per_tree_shape", -1, int64(nk)))
	score := g.gemm("leaf_score", perTree,
		g.constant("leaf_paths", []int64{int64(nk), int64(nl)}, paths),
		g.constant("leaf_offset", []int64{int64(nl)}, offset))
	onehot := g.op("Relu", "leaf_onehot", score)
	leaves := g.op("Reshape", "leaf_onehot_per_row", onehot, g.shape("per_row_shape", -1, int64(nt*nl)))
	return g.gemm("logit", leaves,
		g.constant("leaf_values", []int64{int64(nt * nl), 1}, values),
		g.constant("base", []int64{1}, []float32{float32(p.base)}))
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
