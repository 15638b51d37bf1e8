package features

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/tabular"
)

// Transform turns every row of f into a feature vector, one matrix row
// each, in the order of Names. Columns are found by name, so f may hold
// them in any order and hold others too. It returns ErrMissingColumn when
// f lacks an input column and ErrBadValue when a value does not fit its
// column's kind (read scoring data with Kinds to avoid that).
func (p *Pipeline) Transform(f *tabular.Frame) (modelkit.Matrix, error) {
	if err := p.validate(); err != nil {
		return modelkit.Matrix{}, err
	}
	m := modelkit.NewMatrix(f.Rows, p.width())
	at := 0
	for k := range p.Inputs {
		in := &p.Inputs[k]
		c, ok := f.Column(in.Name)
		if !ok {
			return modelkit.Matrix{}, fmt.Errorf("%w: the frame has no column %q, which the pipeline was fitted on", ErrMissingColumn, in.Name)
		}
		if c.Len() != f.Rows {
			return modelkit.Matrix{}, fmt.Errorf("%w: column %q has %d values but the frame has %d rows", ErrBadValue, in.Name, c.Len(), f.Rows)
		}
		w := in.width()
		for i := 0; i < f.Rows; i++ {
			dst := m.Row(i)[at : at+w]
			var err error
			switch {
			case in.Kind == tabular.Categorical && c.Cat != nil:
				in.encodeCategory(c.Cat[i], dst)
			case in.Kind == tabular.Categorical:
				in.encodeCategory(numberLabel(c.Num[i]), dst)
			case c.Num != nil:
				err = in.encodeNumber(c.Num[i], dst)
			default:
				err = in.encodeText(c.Cat[i], dst)
			}
			if err != nil {
				return modelkit.Matrix{}, fmt.Errorf("%w: column %q, row %d: %v", ErrBadValue, in.Name, i, err)
			}
		}
		at += w
	}
	return m, nil
}

// TransformRecord turns one customer, given as the strings a JSON request
// or a CSV line would carry, into a feature vector equal to the row
// Transform makes for the same values. A field that is absent counts as
// missing, an unseen category goes to the "other" feature, and a value
// that does not fit its column's kind is ErrBadValue naming the field.
func (p *Pipeline) TransformRecord(rec map[string]string) ([]float64, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	out := make([]float64, p.width())
	at := 0
	for k := range p.Inputs {
		in := &p.Inputs[k]
		w := in.width()
		if err := in.encodeText(rec[in.Name], out[at:at+w]); err != nil {
			return nil, fmt.Errorf("%w: field %q: %v", ErrBadValue, in.Name, err)
		}
		at += w
	}
	return out, nil
}

// encodeText reads a value as tabular.ReadCSV would for the input's kind
// and encodes it.
func (in *Input) encodeText(s string, dst []float64) error {
	var v float64
	var err error
	switch in.Kind {
	case tabular.Categorical:
		in.encodeCategory(strings.TrimSpace(s), dst)
		return nil
	case tabular.Boolean:
		v, err = tabular.ParseBool(s)
	default:
		v, err = tabular.ParseNumber(s)
	}
	if err != nil {
		return err
	}
	return in.encodeNumber(v, dst)
}

// encodeNumber writes a numeric or boolean input's features; NaN is
// missing.
func (in *Input) encodeNumber(v float64, dst []float64) error {
	missing := math.IsNaN(v)
	switch {
	case in.Kind == tabular.Boolean && missing:
		dst[0] = 0
	case in.Kind == tabular.Boolean:
		if v != 0 && v != 1 {
			return fmt.Errorf("%v is not 0 or 1", v)
		}
		dst[0] = v
	default:
		if missing {
			v = in.Median
		}
		// Rounded to float32, the precision of the ONNX graphs that serve
		// the models: a model then sees in training exactly the values it
		// is served, and a tree threshold cannot fall between a value and
		// its float32 rounding.
		dst[0] = float64(float32((v - in.Mean) / in.Std))
	}
	if in.Missing {
		dst[1] = 0
		if missing {
			dst[1] = 1
		}
	}
	return nil
}

// encodeCategory writes a categorical input's one-hot features; a label
// that is empty or was not seen in training sets the last, "other", one.
func (in *Input) encodeCategory(label string, dst []float64) {
	clear(dst)
	if i, found := slices.BinarySearch(in.Categories, label); found && label != "" {
		dst[i] = 1
		return
	}
	dst[len(in.Categories)] = 1
}

// numberLabel writes a number as a category label, for a categorical input
// whose column was read as numbers.
func numberLabel(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
