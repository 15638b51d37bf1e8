// Package modelkit holds the model forms that the trainers produce, the
// ONNX exporter writes and the runtime serves: a logistic regression, a
// multilayer perceptron and an ensemble of binary trees, each over a dense
// feature vector made by the feature step (so no input is ever NaN).
// Every form predicts the probability of the positive class.
package modelkit

import "math"

// Matrix is a dense row-major matrix of float64.
type Matrix struct {
	Rows, Cols int
	Data       []float64 // len Rows*Cols
}

// NewMatrix returns a zero matrix.
func NewMatrix(rows, cols int) Matrix {
	return Matrix{Rows: rows, Cols: cols, Data: make([]float64, rows*cols)}
}

// Row returns row i, sharing the matrix's storage.
func (m Matrix) Row(i int) []float64 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// Linear is a logistic regression: p = σ(Bias + Σ Weights[j]·x[j]).
type Linear struct {
	Weights []float64 `json:"weights"`
	Bias    float64   `json:"bias"`
}

// Predict returns the probability for one feature vector.
func (l *Linear) Predict(x []float64) float64 {
	z := l.Bias
	for j, w := range l.Weights {
		z += w * x[j]
	}
	return Sigmoid(z)
}

// Layer is a dense layer y = act(W·x + B) with W of Out rows and In
// columns, row-major; act is ReLU when ReLU is set, identity otherwise.
type Layer struct {
	In   int       `json:"in"`
	Out  int       `json:"out"`
	W    []float64 `json:"w"`
	B    []float64 `json:"b"`
	ReLU bool      `json:"relu"`
}

// MLP is a multilayer perceptron whose last layer has one output, the
// logit: p = σ(last layer's output).
type MLP struct {
	Layers []Layer `json:"layers"`
}

// Predict returns the probability for one feature vector.
func (m *MLP) Predict(x []float64) float64 {
	cur := x
	for _, l := range m.Layers {
		next := make([]float64, l.Out)
		for o := 0; o < l.Out; o++ {
			z := l.B[o]
			row := l.W[o*l.In : (o+1)*l.In]
			for i, w := range row {
				z += w * cur[i]
			}
			if l.ReLU && z < 0 {
				z = 0
			}
			next[o] = z
		}
		cur = next
	}
	return Sigmoid(cur[0])
}

// Node is one node of a binary tree. An internal node sends x to Left
// when x[Feature] < Threshold and to Right otherwise; a leaf holds Value,
// its contribution to the logit.
type Node struct {
	Leaf      bool    `json:"leaf,omitempty"`
	Feature   int     `json:"feature"`
	Threshold float64 `json:"threshold"`
	Left      int     `json:"left"`
	Right     int     `json:"right"`
	Value     float64 `json:"value"`
}

// Tree is a binary tree whose root is Nodes[0].
type Tree struct {
	Nodes []Node `json:"nodes"`
}

// Eval returns the leaf value that x reaches.
func (t *Tree) Eval(x []float64) float64 {
	i := 0
	for !t.Nodes[i].Leaf {
		n := &t.Nodes[i]
		if x[n.Feature] < n.Threshold {
			i = n.Left
		} else {
			i = n.Right
		}
	}
	return t.Nodes[i].Value
}

// Ensemble is a boosted ensemble: p = σ(Base + Σ trees' leaf values).
type Ensemble struct {
	Base  float64 `json:"base"`
	Trees []Tree  `json:"trees"`
}

// Predict returns the probability for one feature vector.
func (e *Ensemble) Predict(x []float64) float64 {
	z := e.Base
	for i := range e.Trees {
		z += e.Trees[i].Eval(x)
	}
	return Sigmoid(z)
}

// Sigmoid is the logistic function, computed without overflow.
func Sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}
