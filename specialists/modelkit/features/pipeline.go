package features

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/tabular"
)

// Pipeline is the learned feature step. It serializes to JSON, and a
// pipeline read back from JSON transforms exactly as the original.
type Pipeline struct {
	Inputs []Input `json:"inputs"` // in the training frame's column order
}

// Input says how one column becomes features:
//   - numeric: one standardized value, (x - Mean) / Std rounded to
//     float32 (the precision of the ONNX graphs), with a missing value
//     replaced by Median first;
//   - boolean: the value itself, 0 or 1, with a missing value as 0;
//   - categorical: one 0/1 feature per category seen in training, in
//     sorted order, then one "other" feature for a missing or unseen label.
//
// With Missing set, a numeric or boolean input adds a feature that is 1
// when the value was missing, so a model can tell an imputed value apart.
type Input struct {
	Name       string       `json:"name"`
	Kind       tabular.Kind `json:"kind"`
	Mean       float64      `json:"mean,omitempty"`
	Std        float64      `json:"std,omitempty"`
	Median     float64      `json:"median,omitempty"`
	Missing    bool         `json:"missing,omitempty"`
	Categories []string     `json:"categories,omitempty"`
}

// Fit learns a pipeline from a training frame. Identifier columns are
// dropped; every other column becomes one input.
func Fit(f *tabular.Frame) (*Pipeline, error) {
	if f == nil || f.Rows == 0 {
		return nil, errors.New("features: fit: the frame has no rows")
	}
	p := &Pipeline{}
	for _, c := range f.Columns {
		if c.Kind == tabular.Identifier {
			continue
		}
		if c.Len() != f.Rows {
			return nil, fmt.Errorf("features: fit: column %q has %d values but the frame has %d rows", c.Name, c.Len(), f.Rows)
		}
		in := Input{Name: c.Name, Kind: c.Kind}
		switch c.Kind {
		case tabular.Numeric:
			if c.Num == nil {
				return nil, fmt.Errorf("features: fit: numeric column %q holds no numbers", c.Name)
			}
			in.Mean, in.Std, in.Median, in.Missing = numericStats(c.Num)
		case tabular.Boolean:
			if c.Num == nil {
				return nil, fmt.Errorf("features: fit: boolean column %q holds no numbers", c.Name)
			}
			in.Missing = slices.ContainsFunc(c.Num, math.IsNaN)
		case tabular.Categorical:
			in.Categories = categories(c.Cat)
		default:
			return nil, fmt.Errorf("features: fit: column %q has unknown kind %v", c.Name, c.Kind)
		}
		p.Inputs = append(p.Inputs, in)
	}
	if len(p.Inputs) == 0 {
		return nil, errors.New("features: fit: the frame has no numeric, boolean or categorical columns")
	}
	return p, nil
}

// numericStats returns the mean, standard deviation (1 when the values do
// not vary, so standardizing never divides by zero) and median of the
// values that are present, and whether any is missing. A column with no
// values at all gets 0, 1, 0.
func numericStats(xs []float64) (mean, std, median float64, missing bool) {
	present := make([]float64, 0, len(xs))
	for _, x := range xs {
		if math.IsNaN(x) {
			missing = true
			continue
		}
		present = append(present, x)
	}
	if len(present) == 0 {
		return 0, 1, 0, missing
	}
	for _, x := range present {
		mean += x
	}
	mean /= float64(len(present))
	for _, x := range present {
		std += (x - mean) * (x - mean)
	}
	std = math.Sqrt(std / float64(len(present)))
	if std == 0 || math.IsNaN(std) || math.IsInf(std, 0) {
		std = 1
	}
	slices.Sort(present)
	n := len(present)
	median = present[n/2]
	if n%2 == 0 {
		median = present[n/2-1]/2 + present[n/2]/2
	}
	return mean, std, median, missing
}

// categories returns the distinct present labels, sorted.
func categories(labels []string) []string {
	seen := make(map[string]bool)
	var out []string
	for _, l := range labels {
		if l != "" && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// Names returns the feature names in the order Transform writes them:
// "Age", "Age_missing", "Geography=France", ..., "Geography=other".
func (p *Pipeline) Names() []string {
	var names []string
	for _, in := range p.Inputs {
		switch in.Kind {
		case tabular.Categorical:
			for _, c := range in.Categories {
				names = append(names, in.Name+"="+c)
			}
			names = append(names, in.otherName())
		default:
			names = append(names, in.Name)
			if in.Missing {
				names = append(names, in.Name+"_missing")
			}
		}
	}
	return names
}

// otherName names the "other" bucket, stepping aside if a real category
// is called "other".
func (in *Input) otherName() string {
	other := "other"
	for {
		if _, found := slices.BinarySearch(in.Categories, other); !found {
			return in.Name + "=" + other
		}
		other += "_"
	}
}

// Kinds returns each input column's kind, to pass as tabular.ReadOptions
// Kinds when reading data to score, so a small batch whose values happen
// to look different (a numeric column holding only 0 and 1) is read the
// way the pipeline expects.
func (p *Pipeline) Kinds() map[string]tabular.Kind {
	kinds := make(map[string]tabular.Kind, len(p.Inputs))
	for _, in := range p.Inputs {
		kinds[in.Name] = in.Kind
	}
	return kinds
}

// width returns the number of features the pipeline writes.
func (p *Pipeline) width() int {
	n := 0
	for k := range p.Inputs {
		n += p.Inputs[k].width()
	}
	return n
}

// width returns the number of features the input writes.
func (in *Input) width() int {
	if in.Kind == tabular.Categorical {
		return len(in.Categories) + 1
	}
	if in.Missing {
		return 2
	}
	return 1
}

// validate checks what the encoders rely on, since a pipeline read from
// JSON may have been edited or truncated.
func (p *Pipeline) validate() error {
	if len(p.Inputs) == 0 {
		return fmt.Errorf("%w: it has no inputs", ErrInvalidPipeline)
	}
	for _, in := range p.Inputs {
		switch in.Kind {
		case tabular.Numeric:
			for _, v := range []float64{in.Mean, in.Std, in.Median} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("%w: input %q has a statistic that is not a finite number", ErrInvalidPipeline, in.Name)
				}
			}
			if in.Std <= 0 {
				return fmt.Errorf("%w: input %q has standard deviation %v; it must be positive", ErrInvalidPipeline, in.Name, in.Std)
			}
		case tabular.Boolean:
		case tabular.Categorical:
			for i := 1; i < len(in.Categories); i++ {
				if in.Categories[i-1] >= in.Categories[i] {
					return fmt.Errorf("%w: input %q has categories out of order or repeated at %q", ErrInvalidPipeline, in.Name, in.Categories[i])
				}
			}
		default:
			return fmt.Errorf("%w: input %q has kind %v, which the feature step does not use", ErrInvalidPipeline, in.Name, in.Kind)
		}
	}
	return nil
}
