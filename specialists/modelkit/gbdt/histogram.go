package gbdt

// binStat holds the gradient sum, hessian sum and row count of one bin.
type binStat struct {
	g, h float64
	n    int
}

// A histogram of a node is one []binStat holding every feature's bins
// back to back; feature f's bins are hist[offsets[f]:offsets[f+1]]. Each
// feature's segment is built by one goroutine, visiting the node's rows
// in ascending order, so its sums never depend on the worker count.

// buildSegment fills feature f's segment of hist from rows.
func (gr *grower) buildSegment(hist []binStat, f int, rows []int32) {
	seg := hist[gr.offsets[f]:gr.offsets[f+1]]
	clear(seg)
	col := gr.bins[f*gr.n : (f+1)*gr.n]
	gh := gr.gh
	for _, r := range rows {
		s := &seg[col[r]]
		s.g += gh[2*r]
		s.h += gh[2*r+1]
		s.n++
	}
}

// subtractSegment sets feature f's segment of dst to parent minus child:
// the histogram of child's sibling, without visiting its rows.
func (gr *grower) subtractSegment(dst, parent, child []binStat, f int) {
	lo, hi := gr.offsets[f], gr.offsets[f+1]
	for i := lo; i < hi; i++ {
		d := &dst[i]
		d.n = parent[i].n - child[i].n
		if d.n == 0 {
			// An empty bin is exactly empty, not a rounding residue.
			d.g, d.h = 0, 0
			continue
		}
		d.g = parent[i].g - child[i].g
		d.h = parent[i].h - child[i].h
	}
}

// alloc returns a histogram, reusing a released one when it can. Its
// contents are stale: builders overwrite every segment they use.
func (gr *grower) alloc() []binStat {
	if k := len(gr.free); k > 0 {
		h := gr.free[k-1]
		gr.free = gr.free[:k-1]
		return h
	}
	return make([]binStat, gr.offsets[len(gr.offsets)-1])
}

// release returns a histogram for reuse; nil is ignored.
func (gr *grower) release(h []binStat) {
	if h != nil {
		gr.free = append(gr.free, h)
	}
}

// family is a node that was split and its two children, whose
// histograms come from one build and one subtraction.
type family struct {
	parent, left, right *growNode
}

// childHistograms builds the smaller child's histogram of each family
// from its rows and derives its sibling's as parent minus smaller, over
// the features feats. Children that cannot split keep no histogram.
func (gr *grower) childHistograms(fams []family, feats []int, depth int) {
	for _, fm := range fams {
		fm.left.hist, fm.right.hist = gr.alloc(), gr.alloc()
	}
	parallelFor(gr.p.Workers, len(fams)*len(feats), func(job int) {
		fm, f := fams[job/len(feats)], feats[job%len(feats)]
		small, big := fm.left, fm.right
		if big.hi-big.lo < small.hi-small.lo {
			small, big = big, small
		}
		gr.buildSegment(small.hist, f, gr.rows[small.lo:small.hi])
		gr.subtractSegment(big.hist, fm.parent.hist, small.hist, f)
	})
	for _, fm := range fams {
		gr.release(fm.parent.hist)
		fm.parent.hist = nil
		for _, c := range []*growNode{fm.left, fm.right} {
			if !gr.splittable(c, depth) {
				gr.release(c.hist)
				c.hist = nil
			}
		}
	}
}
