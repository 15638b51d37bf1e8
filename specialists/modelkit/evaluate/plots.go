package evaluate

import (
	"bytes"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Curve is one model's predictions on a split, for plotting.
type Curve struct {
	Name string
	Y, P []float64
}

// Plot names the figures PlotPNG draws.
type Plot string

// The figures of an evaluation.
const (
	PlotROC         Plot = "roc"
	PlotPR          Plot = "pr"
	PlotReliability Plot = "calibration"
)

// PlotPNG draws one figure comparing the models' curves and returns it as
// PNG bytes (6×4.5 inches at 96 dpi).
func PlotPNG(kind Plot, curves []Curve) ([]byte, error) {
	p := plot.New()
	p.Legend.Top = true
	p.X.Min, p.Y.Min, p.X.Max, p.Y.Max = 0, 0, 1, 1
	var diagonal bool
	switch kind {
	case PlotROC:
		p.Title.Text, p.X.Label.Text, p.Y.Label.Text = "ROC curve", "false positive rate", "true positive rate"
		p.Legend.Left, p.Legend.Top = false, false
		diagonal = true
	case PlotPR:
		p.Title.Text, p.X.Label.Text, p.Y.Label.Text = "Precision-recall curve", "recall", "precision"
	case PlotReliability:
		p.Title.Text, p.X.Label.Text, p.Y.Label.Text = "Calibration", "mean predicted probability", "fraction positive"
		p.Legend.Left = true
		diagonal = true
	default:
		return nil, fmt.Errorf("%w: unknown plot %q", ErrBadInput, kind)
	}
	if diagonal {
		line, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
		if err != nil {
			return nil, err
		}
		line.Color = color.Gray{Y: 160}
		line.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
		p.Add(line)
	}
	for i, c := range curves {
		xs, ys, err := points(kind, c)
		if err != nil {
			return nil, fmt.Errorf("plot %s of %s: %w", kind, c.Name, err)
		}
		xy := make(plotter.XYs, len(xs))
		for k := range xs {
			xy[k] = plotter.XY{X: xs[k], Y: ys[k]}
		}
		line, err := plotter.NewLine(xy)
		if err != nil {
			return nil, err
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(c.Name, line)
	}
	w, err := p.WriterTo(6*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func points(kind Plot, c Curve) (xs, ys []float64, err error) {
	switch kind {
	case PlotROC:
		return ROCPoints(c.Y, c.P)
	case PlotPR:
		return PRPoints(c.Y, c.P)
	default:
		bins, err := Reliability(c.Y, c.P, 10)
		if err != nil {
			return nil, nil, err
		}
		for _, b := range bins {
			xs, ys = append(xs, b.MeanPredicted), append(ys, b.FractionTrue)
		}
		return xs, ys, nil
	}
}
