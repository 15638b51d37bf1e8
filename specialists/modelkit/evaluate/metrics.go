// Package evaluate scores probability predictions of a binary classifier:
// ranking (ROC AUC, PR AUC), calibration (log loss, Brier score, a
// reliability curve) and decisions at a threshold chosen on validation data
// (F1, precision, recall).
package evaluate

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// ErrBadInput is wrapped by every error about the inputs.
var ErrBadInput = errors.New("bad evaluation input")

// Metrics of one model on one data split.
type Metrics struct {
	ROCAUC    float64 `json:"roc_auc"`
	PRAUC     float64 `json:"pr_auc"`
	LogLoss   float64 `json:"log_loss"`
	Brier     float64 `json:"brier"`
	F1        float64 `json:"f1"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	Threshold float64 `json:"threshold"`
}

// Score computes every metric of p against labels y (0/1), deciding
// positive when p ≥ threshold.
func Score(y, p []float64, threshold float64) (Metrics, error) {
	if err := check(y, p); err != nil {
		return Metrics{}, err
	}
	m := Metrics{Threshold: threshold}
	m.ROCAUC, m.PRAUC = ranking(y, p)
	m.LogLoss, m.Brier = calibration(y, p)
	m.Precision, m.Recall, m.F1 = decisions(y, p, threshold)
	return m, nil
}

// BestF1Threshold returns the threshold that maximizes F1 of p against y;
// choose it on validation data and apply it to the test split.
func BestF1Threshold(y, p []float64) (float64, error) {
	if err := check(y, p); err != nil {
		return 0, err
	}
	pos, _ := classCounts(y)
	best, bestF1 := 0.5, -1.0
	for _, c := range cuts(y, p) {
		if f1 := 2 * c.tp / (c.tp + c.fp + pos); f1 > bestF1 {
			best, bestF1 = c.score, f1
		}
	}
	return best, nil
}

// Bin is one bin of a reliability curve.
type Bin struct {
	Lower, Upper  float64 // predicted probability range
	MeanPredicted float64 `json:"mean_predicted"`
	FractionTrue  float64 `json:"fraction_positive"`
	Count         int     `json:"count"`
}

// Reliability groups predictions into bins of equal width and compares
// the mean prediction with the observed rate in each; empty bins are left
// out.
func Reliability(y, p []float64, bins int) ([]Bin, error) {
	if err := check(y, p); err != nil {
		return nil, err
	}
	if bins < 1 {
		return nil, fmt.Errorf("%w: %d bins", ErrBadInput, bins)
	}
	sumP, sumY, n := make([]float64, bins), make([]float64, bins), make([]int, bins)
	for i := range p {
		b := min(int(p[i]*float64(bins)), bins-1)
		sumP[b] += p[i]
		sumY[b] += y[i]
		n[b]++
	}
	var out []Bin
	for b := range bins {
		if n[b] == 0 {
			continue
		}
		out = append(out, Bin{
			Lower: float64(b) / float64(bins), Upper: float64(b+1) / float64(bins),
			MeanPredicted: sumP[b] / float64(n[b]), FractionTrue: sumY[b] / float64(n[b]), Count: n[b],
		})
	}
	return out, nil
}

// ROCPoints returns the ROC curve as false- and true-positive rates, from
// (0,0) to (1,1), one point per distinct score.
func ROCPoints(y, p []float64) (fpr, tpr []float64, err error) {
	if err := check(y, p); err != nil {
		return nil, nil, err
	}
	pos, neg := classCounts(y)
	fpr, tpr = []float64{0}, []float64{0}
	for _, c := range cuts(y, p) {
		fpr, tpr = append(fpr, c.fp/neg), append(tpr, c.tp/pos)
	}
	return fpr, tpr, nil
}

// PRPoints returns the precision-recall curve, one point per distinct
// score, from the highest score down.
func PRPoints(y, p []float64) (recall, precision []float64, err error) {
	if err := check(y, p); err != nil {
		return nil, nil, err
	}
	pos, _ := classCounts(y)
	for _, c := range cuts(y, p) {
		recall, precision = append(recall, c.tp/pos), append(precision, c.tp/(c.tp+c.fp))
	}
	return recall, precision, nil
}

// ranking computes ROC AUC (with ties counted half, the Mann-Whitney
// statistic) and PR AUC as average precision.
func ranking(y, p []float64) (rocAUC, prAUC float64) {
	pos, neg := classCounts(y)
	prevTP, prevFP, area, ap := 0.0, 0.0, 0.0, 0.0
	for _, c := range cuts(y, p) {
		tpTie, fpTie := c.tp-prevTP, c.fp-prevFP
		// Trapezoid over the tie group: its negatives see the positives
		// ranked above, plus half of the positives tied with them.
		area += fpTie * (prevTP + tpTie/2)
		if tpTie > 0 {
			ap += tpTie / pos * (c.tp / (c.tp + c.fp))
		}
		prevTP, prevFP = c.tp, c.fp
	}
	return area / (pos * neg), ap
}

// cut is the count of true and false positives when every prediction
// scoring at least score is called positive.
type cut struct{ score, tp, fp float64 }

// cuts returns one cut per distinct score, from the highest score down:
// rows tied on a score always fall on the same side.
func cuts(y, p []float64) []cut {
	idx := order(p)
	var out []cut
	tp, fp := 0.0, 0.0
	for k, i := range idx {
		if y[i] == 1 {
			tp++
		} else {
			fp++
		}
		if k+1 < len(idx) && p[idx[k+1]] == p[i] {
			continue
		}
		out = append(out, cut{score: p[i], tp: tp, fp: fp})
	}
	return out
}

func calibration(y, p []float64) (logLoss, brier float64) {
	const eps = 1e-15
	for i := range y {
		q := math.Min(math.Max(p[i], eps), 1-eps)
		if y[i] == 1 {
			logLoss -= math.Log(q)
		} else {
			logLoss -= math.Log(1 - q)
		}
		brier += (p[i] - y[i]) * (p[i] - y[i])
	}
	n := float64(len(y))
	return logLoss / n, brier / n
}

func decisions(y, p []float64, threshold float64) (precision, recall, f1 float64) {
	tp, fp, fn := 0.0, 0.0, 0.0
	for i := range y {
		switch pred := p[i] >= threshold; {
		case pred && y[i] == 1:
			tp++
		case pred:
			fp++
		case y[i] == 1:
			fn++
		}
	}
	if tp+fp > 0 {
		precision = tp / (tp + fp)
	}
	if tp+fn > 0 {
		recall = tp / (tp + fn)
	}
	if precision+recall > 0 {
		f1 = 2 * precision * recall / (precision + recall)
	}
	return precision, recall, f1
}

func check(y, p []float64) error {
	if len(y) == 0 || len(y) != len(p) {
		return fmt.Errorf("%w: %d labels and %d predictions", ErrBadInput, len(y), len(p))
	}
	pos, neg := classCounts(y)
	if pos+neg != float64(len(y)) {
		return fmt.Errorf("%w: labels must be 0 or 1", ErrBadInput)
	}
	if pos == 0 || neg == 0 {
		return fmt.Errorf("%w: both classes must be present (%v positive, %v negative)", ErrBadInput, pos, neg)
	}
	for i, v := range p {
		if math.IsNaN(v) || v < 0 || v > 1 {
			return fmt.Errorf("%w: prediction %d is %v, not a probability", ErrBadInput, i, v)
		}
	}
	return nil
}

func classCounts(y []float64) (pos, neg float64) {
	for _, v := range y {
		switch v {
		case 1:
			pos++
		case 0:
			neg++
		}
	}
	return pos, neg
}

// order returns the indexes of p from the highest score down; ties keep
// their input order, so results are deterministic.
func order(p []float64) []int {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
	return idx
}
