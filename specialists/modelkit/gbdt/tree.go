package gbdt

import "github.com/orchestrate-dev/orchestrate/specialists/modelkit"

// grower grows one tree at a time on the binned training data.
type grower struct {
	bins    []uint8 // column-major: feature f of row i at f*n+i
	n       int     // training rows
	q       *quantizer
	offsets []int // histogram layout, see histogram.go
	p       Params
	gh      []float64 // gradient and hessian of row i at 2i and 2i+1
	rows    []int32   // the current tree's rows; each node owns a range
	scratch []int32
	free    [][]binStat
}

func newGrower(bins []uint8, n int, q *quantizer, p Params) *grower {
	gr := &grower{bins: bins, n: n, q: q, p: p,
		gh:   make([]float64, 2*n),
		rows: make([]int32, 0, n), scratch: make([]int32, 0, n)}
	gr.offsets = make([]int, len(q.edges)+1)
	for f := range q.edges {
		gr.offsets[f+1] = gr.offsets[f] + q.bins(f)
	}
	return gr
}

// growNode is a node still growing: its rows are gr.rows[lo:hi], with
// gradient sum g and hessian sum h; hist is nil when it may not split.
type growNode struct {
	id     int
	lo, hi int
	g, h   float64
	hist   []binStat
}

// split sends the rows whose bin of feature is at most bin to the left;
// a feature of -1 means no split gains anything.
type split struct {
	gain    float64
	feature int
	bin     int
}

// binNode mirrors a modelkit.Node with the split bin in place of the
// threshold, to walk the binned training rows.
type binNode struct {
	leaf        bool
	feature     int
	bin         uint8
	left, right int
	value       float64
}

// binTree is a tree over the binned training data.
type binTree []binNode

// leafValue returns the leaf value of row i of the binned data.
func (t binTree) leafValue(bins []uint8, n, i int) float64 {
	k := 0
	for !t[k].leaf {
		nd := &t[k]
		if bins[nd.feature*n+i] <= nd.bin {
			k = nd.left
		} else {
			k = nd.right
		}
	}
	return t[k].value
}

// splittable reports whether a node at depth may split.
func (gr *grower) splittable(nd *growNode, depth int) bool {
	return depth < gr.p.MaxDepth && nd.hi-nd.lo >= 2*gr.p.MinSamplesLeaf
}

// grow grows a tree depth-wise on rows (ascending) over features feats
// and returns it both for raw floats and for the binned data.
func (gr *grower) grow(rows []int32, feats []int) (modelkit.Tree, binTree) {
	gr.rows = append(gr.rows[:0], rows...)
	var tree modelkit.Tree
	var bt binTree
	add := func() int {
		tree.Nodes = append(tree.Nodes, modelkit.Node{})
		bt = append(bt, binNode{})
		return len(bt) - 1
	}
	root := &growNode{id: add(), hi: len(rows)}
	root.g, root.h = gr.sums(gr.rows)
	if gr.splittable(root, 0) {
		root.hist = gr.alloc()
		parallelFor(gr.p.Workers, len(feats), func(k int) {
			gr.buildSegment(root.hist, feats[k], gr.rows)
		})
	}
	level := []*growNode{root}
	for depth := 0; len(level) > 0; depth++ {
		splits := gr.bestSplits(level, feats)
		var next []*growNode
		var fams []family
		for i, nd := range level {
			s := splits[i]
			if s.feature < 0 {
				v := -nd.g / (nd.h + gr.p.L2) * gr.p.LearningRate
				tree.Nodes[nd.id] = modelkit.Node{Leaf: true, Value: v}
				bt[nd.id] = binNode{leaf: true, value: v}
				gr.release(nd.hist)
				nd.hist = nil
				continue
			}
			left, right := gr.partition(nd, s)
			left.id, right.id = add(), add()
			tree.Nodes[nd.id] = modelkit.Node{Feature: s.feature,
				Threshold: gr.q.edges[s.feature][s.bin], Left: left.id, Right: right.id}
			bt[nd.id] = binNode{feature: s.feature, bin: uint8(s.bin), left: left.id, right: right.id}
			next = append(next, left, right)
			if gr.splittable(left, depth+1) || gr.splittable(right, depth+1) {
				fams = append(fams, family{nd, left, right})
			} else {
				gr.release(nd.hist)
				nd.hist = nil
			}
		}
		gr.childHistograms(fams, feats, depth+1)
		level = next
	}
	return tree, bt
}

// sums returns the gradient and hessian sums over rows, in order.
func (gr *grower) sums(rows []int32) (g, h float64) {
	for _, r := range rows {
		g += gr.gh[2*r]
		h += gr.gh[2*r+1]
	}
	return g, h
}

// bestSplits returns the best split of each node of level: the best
// split of each (node, feature) in parallel, then the first of the
// largest gains in feature order.
func (gr *grower) bestSplits(level []*growNode, feats []int) []split {
	cands := make([]split, len(level)*len(feats))
	parallelFor(gr.p.Workers, len(cands), func(job int) {
		cands[job] = gr.bestSplitOn(level[job/len(feats)], feats[job%len(feats)])
	})
	best := make([]split, len(level))
	for i := range level {
		best[i] = split{feature: -1}
		for _, c := range cands[i*len(feats) : (i+1)*len(feats)] {
			if c.feature >= 0 && c.gain > best[i].gain {
				best[i] = c
			}
		}
	}
	return best
}

// bestSplitOn returns the split of nd on feature f with the largest gain
//
//	G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)
//
// leaving at least MinSamplesLeaf rows on each side.
func (gr *grower) bestSplitOn(nd *growNode, f int) split {
	best := split{feature: -1}
	if nd.hist == nil {
		return best
	}
	seg := nd.hist[gr.offsets[f]:gr.offsets[f+1]]
	lambda, minLeaf, n := gr.p.L2, gr.p.MinSamplesLeaf, nd.hi-nd.lo
	parent := nd.g * nd.g / (nd.h + lambda)
	var gl, hl float64
	nl := 0
	for b := 0; b < len(seg)-1; b++ {
		gl += seg[b].g
		hl += seg[b].h
		nl += seg[b].n
		if nl < minLeaf || seg[b].n == 0 {
			continue
		}
		if n-nl < minLeaf {
			break
		}
		grr, hr := nd.g-gl, max(nd.h-hl, 0)
		gain := gl*gl/(hl+lambda) + grr*grr/(hr+lambda) - parent
		if gain > best.gain {
			best = split{gain: gain, feature: f, bin: b}
		}
	}
	return best
}

// partition reorders nd's rows stably, left child's first, and returns
// the two children with their sums.
func (gr *grower) partition(nd *growNode, s split) (left, right *growNode) {
	col := gr.bins[s.feature*gr.n : (s.feature+1)*gr.n]
	rows := gr.rows[nd.lo:nd.hi]
	spill := gr.scratch[:0]
	k := 0
	for _, r := range rows {
		if col[r] <= uint8(s.bin) {
			rows[k] = r
			k++
		} else {
			spill = append(spill, r)
		}
	}
	copy(rows[k:], spill)
	left = &growNode{lo: nd.lo, hi: nd.lo + k}
	right = &growNode{lo: nd.lo + k, hi: nd.hi}
	left.g, left.h = gr.sums(rows[:k])
	right.g, right.h = gr.sums(rows[k:])
	return left, right
}
