package linear

import (
	"errors"
	"fmt"
	"math"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
)

var (
	// ErrInvalidData is wrapped by Train's errors about its features or
	// labels: no rows, sizes that disagree, values that are not finite,
	// labels other than 0 and 1, or only one class.
	ErrInvalidData = errors.New("invalid training data")
	// ErrInvalidParams is wrapped by Train's errors about Params.
	ErrInvalidParams = errors.New("invalid parameters")
)

// Params controls training. The objective is
//
//	mean log-loss + L2/2·‖w‖²
//
// over the weights w; the bias is not penalised.
type Params struct {
	// L2 is the penalty strength. If zero, 1e-3 is used.
	L2 float64
	// MaxIter caps the number of Newton steps. If zero, 500 is used.
	MaxIter int
	// Tol ends training once no component of the objective's gradient is
	// larger in magnitude. If zero, 1e-7 is used.
	Tol float64
}

func (p Params) withDefaults() Params {
	if p.L2 == 0 {
		p.L2 = 1e-3
	}
	if p.MaxIter == 0 {
		p.MaxIter = 500
	}
	if p.Tol == 0 {
		p.Tol = 1e-7
	}
	return p
}

func (p Params) validate() error {
	switch {
	case !(p.L2 > 0) || math.IsInf(p.L2, 0):
		return fmt.Errorf("%w: L2 is %v, want a positive finite number (or zero for the default 1e-3)", ErrInvalidParams, p.L2)
	case p.MaxIter < 1:
		return fmt.Errorf("%w: MaxIter is %d, want at least 1 (or zero for the default 500)", ErrInvalidParams, p.MaxIter)
	case !(p.Tol > 0) || math.IsInf(p.Tol, 0):
		return fmt.Errorf("%w: Tol is %v, want a positive finite number (or zero for the default 1e-7)", ErrInvalidParams, p.Tol)
	}
	return nil
}

// Result is a trained model and how many Newton steps it took. Iterations
// equal to MaxIter means training stopped before the gradient fell below
// Tol; the model is still the best found.
type Result struct {
	Model      *modelkit.Linear
	Iterations int
}

// Train fits a logistic regression to rows x with labels y (each 0 or 1).
// It returns an error wrapping ErrInvalidData or ErrInvalidParams when the
// input cannot be trained on, and never panics on any input.
func Train(x modelkit.Matrix, y []float64, p Params) (*Result, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("train logistic regression: %w", err)
	}
	if err := checkData(x, y); err != nil {
		return nil, fmt.Errorf("train logistic regression: %w", err)
	}
	d := x.Cols
	k := d + 1 // beta[d] is the bias
	beta := make([]float64, k)
	// Starting the bias at the base rate's log-odds saves a step or two on
	// imbalanced labels.
	mean := 0.0
	for _, v := range y {
		mean += v
	}
	mean /= float64(len(y))
	beta[d] = math.Log(mean / (1 - mean))

	grad := make([]float64, k)
	hess := make([]float64, k*k)
	step := make([]float64, k)
	cand := make([]float64, k)
	loss := objective(x, y, beta, p.L2)
	for it := 0; it < p.MaxIter; it++ {
		gradHess(x, y, beta, p.L2, grad, hess)
		if maxAbs(grad) < p.Tol {
			return result(beta, it), nil
		}
		solveSPD(hess, grad, step, k)
		// Backtracking keeps each step a descent step even far from the
		// optimum, where the pure Newton step can overshoot.
		slope := dot(grad, step)
		t := 1.0
		for {
			for j := range cand {
				cand[j] = beta[j] - t*step[j]
			}
			cl := objective(x, y, cand, p.L2)
			if cl <= loss-1e-4*t*slope {
				copy(beta, cand)
				loss = cl
				break
			}
			t /= 2
			if t < 1e-12 {
				// No representable decrease is left: beta is optimal to
				// machine precision even if the gradient test disagrees.
				return result(beta, it+1), nil
			}
		}
	}
	return result(beta, p.MaxIter), nil
}

func result(beta []float64, iterations int) *Result {
	d := len(beta) - 1
	w := make([]float64, d)
	copy(w, beta[:d])
	return &Result{Model: &modelkit.Linear{Weights: w, Bias: beta[d]}, Iterations: iterations}
}

func checkData(x modelkit.Matrix, y []float64) error {
	if x.Rows < 1 || x.Cols < 1 {
		return fmt.Errorf("%w: the matrix is %d×%d, want at least one row and one column", ErrInvalidData, x.Rows, x.Cols)
	}
	if len(x.Data) != x.Rows*x.Cols {
		return fmt.Errorf("%w: the %d×%d matrix holds %d values", ErrInvalidData, x.Rows, x.Cols, len(x.Data))
	}
	if len(y) != x.Rows {
		return fmt.Errorf("%w: %d labels for %d rows", ErrInvalidData, len(y), x.Rows)
	}
	for i, v := range x.Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: row %d column %d is %v", ErrInvalidData, i/x.Cols, i%x.Cols, v)
		}
	}
	positives := 0
	for i, v := range y {
		if v != 0 && v != 1 {
			return fmt.Errorf("%w: label %d is %v, want 0 or 1", ErrInvalidData, i, v)
		}
		positives += int(v)
	}
	if positives == 0 || positives == len(y) {
		return fmt.Errorf("%w: every label is %v; both classes are needed", ErrInvalidData, y[0])
	}
	return nil
}

// objective is the mean log-loss plus the penalty, with log(1+e^z)
// computed so that no logit overflows it.
func objective(x modelkit.Matrix, y, beta []float64, l2 float64) float64 {
	d := x.Cols
	sum := 0.0
	for i := 0; i < x.Rows; i++ {
		z := beta[d] + dot(beta[:d], x.Row(i))
		sum += math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z))) - y[i]*z
	}
	pen := 0.0
	for _, w := range beta[:d] {
		pen += w * w
	}
	return sum/float64(x.Rows) + l2/2*pen
}

// gradHess fills the objective's gradient and its Hessian (k×k,
// row-major) at beta.
func gradHess(x modelkit.Matrix, y, beta []float64, l2 float64, grad, hess []float64) {
	d, k := x.Cols, x.Cols+1
	clear(grad)
	clear(hess)
	for i := 0; i < x.Rows; i++ {
		row := x.Row(i)
		p := modelkit.Sigmoid(beta[d] + dot(beta[:d], row))
		r, w := p-y[i], p*(1-p)
		for a := 0; a < k; a++ {
			xa := 1.0
			if a < d {
				xa = row[a]
			}
			grad[a] += r * xa
			wa := w * xa
			h := hess[a*k : a*k+k]
			for b := a; b < d; b++ {
				h[b] += wa * row[b]
			}
			h[d] += wa
		}
	}
	n := float64(x.Rows)
	for a := 0; a < k; a++ {
		grad[a] /= n
		for b := a; b < k; b++ {
			hess[a*k+b] /= n
			hess[b*k+a] = hess[a*k+b]
		}
	}
	for j := 0; j < d; j++ {
		grad[j] += l2 * beta[j]
		hess[j*k+j] += l2
	}
}

// solveSPD solves a·s = g for the symmetric positive definite k×k matrix
// a by Cholesky factorisation, overwriting a. Should rounding make a
// pivot non-positive (every prediction saturated), the diagonal is raised
// until the factorisation succeeds, which only shortens the step.
func solveSPD(a, g, s []float64, k int) {
	orig := append([]float64(nil), a...)
	for jitter := 0.0; ; jitter = math.Max(jitter*10, 1e-10) {
		copy(a, orig)
		for j := 0; j < k; j++ {
			a[j*k+j] += jitter
		}
		if cholesky(a, k) {
			break
		}
	}
	// Forward then back substitution with the lower factor L (L·Lᵀ = a).
	for i := 0; i < k; i++ {
		v := g[i]
		for j := 0; j < i; j++ {
			v -= a[i*k+j] * s[j]
		}
		s[i] = v / a[i*k+i]
	}
	for i := k - 1; i >= 0; i-- {
		v := s[i]
		for j := i + 1; j < k; j++ {
			v -= a[j*k+i] * s[j]
		}
		s[i] = v / a[i*k+i]
	}
}

// cholesky replaces the lower triangle of a with L such that L·Lᵀ = a and
// reports whether a was positive definite.
func cholesky(a []float64, k int) bool {
	for j := 0; j < k; j++ {
		v := a[j*k+j]
		for m := 0; m < j; m++ {
			v -= a[j*k+m] * a[j*k+m]
		}
		if !(v > 0) {
			return false
		}
		ljj := math.Sqrt(v)
		a[j*k+j] = ljj
		for i := j + 1; i < k; i++ {
			u := a[i*k+j]
			for m := 0; m < j; m++ {
				u -= a[i*k+m] * a[j*k+m]
			}
			a[i*k+j] = u / ljj
		}
	}
	return true
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}
