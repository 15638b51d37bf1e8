package tabular

// Column is one feature column of a Frame. Numeric and Boolean columns
// (and identifiers whose values are all numbers) keep their values in Num;
// Categorical columns (and other identifiers) keep them in Cat.
type Column struct {
	Name string
	Kind Kind
	Num  []float64 // NaN is missing; Boolean values are 0 or 1
	Cat  []string  // "" is missing
}

// Len returns the number of values the column holds.
func (c *Column) Len() int {
	if c.Num != nil {
		return len(c.Num)
	}
	return len(c.Cat)
}

// Frame is a table read from CSV: the feature columns in file order, and
// the target as 0/1 labels kept apart from them.
type Frame struct {
	Columns    []Column
	Target     []float64 // 1 for the positive class, 0 otherwise
	TargetName string
	Positive   string // the label read as the positive class
	// SHA256 is the hex SHA-256 of the bytes the frame was read from; a
	// Subset keeps its source's digest, so it names the data's origin.
	SHA256 string
	Rows   int
}

// Column returns the feature column with the given name.
func (f *Frame) Column(name string) (*Column, bool) {
	for i := range f.Columns {
		if f.Columns[i].Name == name {
			return &f.Columns[i], true
		}
	}
	return nil, false
}

// Subset returns a new frame holding the given rows, in the given order
// (a row may repeat), with the same columns and kinds. Every index must be
// in [0, f.Rows).
func (f *Frame) Subset(rows []int) *Frame {
	out := &Frame{
		Columns:    make([]Column, len(f.Columns)),
		Target:     make([]float64, len(rows)),
		TargetName: f.TargetName,
		Positive:   f.Positive,
		SHA256:     f.SHA256,
		Rows:       len(rows),
	}
	for i, r := range rows {
		out.Target[i] = f.Target[r]
	}
	for j, c := range f.Columns {
		nc := Column{Name: c.Name, Kind: c.Kind}
		if c.Num != nil {
			nc.Num = make([]float64, len(rows))
			for i, r := range rows {
				nc.Num[i] = c.Num[r]
			}
		} else {
			nc.Cat = make([]string, len(rows))
			for i, r := range rows {
				nc.Cat[i] = c.Cat[r]
			}
		}
		out.Columns[j] = nc
	}
	return out
}
