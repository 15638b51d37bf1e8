package tabular

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// ReadOptions says how to read a CSV file into a Frame.
type ReadOptions struct {
	// Target names the column to predict. Required.
	Target string
	// Positive is the label of the positive class. If empty, the target
	// must be 0/1, true/false or yes/no (any case) and 1/true/yes is
	// positive. Labels are compared without regard to case.
	Positive string
	// Kinds overrides the inferred kind of the named columns. Naming a
	// column the file does not have is an error.
	Kinds map[string]Kind
	// MaxCategories is the most distinct labels a string column may have
	// and still be Categorical; above it the column is an Identifier. If
	// zero or negative, 50 is used.
	MaxCategories int
}

const defaultMaxCategories = 50

// ReadCSV reads a CSV file with a header line into a Frame, streaming:
// memory grows with the data, not more. Kinds are inferred per column
// (see inferKind) unless opts.Kinds says otherwise. Every error about the
// input wraps ErrBadData and names the line (the header is line 1) and the
// column.
func ReadCSV(r io.Reader, opts ReadOptions) (*Frame, error) {
	if opts.Target == "" {
		return nil, errors.New("tabular: ReadOptions.Target is empty (name the column to predict)")
	}
	if opts.MaxCategories <= 0 {
		opts.MaxCategories = defaultMaxCategories
	}
	h := sha256.New()
	cr := csv.NewReader(io.TeeReader(r, h))
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // row length is checked here, to say more than encoding/csv does

	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: the input is empty; a header line naming the columns is required", ErrBadData)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadData, err)
	}
	names, err := readHeader(header)
	if err != nil {
		return nil, err
	}
	ti := slices.Index(names, opts.Target)
	if ti < 0 {
		return nil, fmt.Errorf("%w: no target column %q; the columns are %s", ErrBadData, opts.Target, quoteAll(names))
	}
	for name := range opts.Kinds {
		if name == opts.Target {
			return nil, fmt.Errorf("%w: ReadOptions.Kinds names the target column %q, which has no kind", ErrBadData, name)
		}
		if !slices.Contains(names, name) {
			return nil, fmt.Errorf("%w: ReadOptions.Kinds names column %q, which the file does not have; the columns are %s", ErrBadData, name, quoteAll(names))
		}
	}

	raws := make([]rawColumn, len(names))
	tgt := targetReader{name: opts.Target}
	var lines []int
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadData, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(names) {
			return nil, fmt.Errorf("%w: line %d has %d fields but the header has %d", ErrBadData, line, len(rec), len(names))
		}
		for i, v := range rec {
			if !utf8.ValidString(v) {
				fl, _ := cr.FieldPos(i)
				return nil, fmt.Errorf("%w: line %d, column %q: the text is not valid UTF-8", ErrBadData, fl, names[i])
			}
			v = strings.TrimSpace(v)
			if i == ti {
				if err := tgt.add(v, line); err != nil {
					return nil, err
				}
				continue
			}
			if err := raws[i].add(v); err != nil {
				return nil, fmt.Errorf("%w: line %d, column %q: %v", ErrBadData, line, names[i], err)
			}
		}
		lines = append(lines, line)
	}

	f := &Frame{TargetName: opts.Target, SHA256: hex.EncodeToString(h.Sum(nil)), Rows: len(lines)}
	if f.Target, f.Positive, err = tgt.labels(opts.Positive); err != nil {
		return nil, err
	}
	for i, name := range names {
		if i == ti {
			continue
		}
		kind, override := opts.Kinds[name]
		col, err := buildColumn(name, &raws[i], lines, kind, override, opts.MaxCategories)
		if err != nil {
			return nil, err
		}
		raws[i] = rawColumn{} // let the raw text go before the next column is built
		f.Columns = append(f.Columns, col)
	}
	return f, nil
}

func readHeader(header []string) ([]string, error) {
	names := make([]string, len(header))
	for i, h := range header {
		if !utf8.ValidString(h) {
			return nil, fmt.Errorf("%w: line 1, column %d: the header name is not valid UTF-8", ErrBadData, i+1)
		}
		if i == 0 {
			h = strings.TrimPrefix(h, "\uFEFF") // byte order mark written by spreadsheet tools
		}
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, fmt.Errorf("%w: line 1, column %d has no name; every column needs one", ErrBadData, i+1)
		}
		if j := slices.Index(names[:i], h); j >= 0 {
			return nil, fmt.Errorf("%w: line 1: columns %d and %d are both named %q", ErrBadData, j+1, i+1, h)
		}
		names[i] = strings.Clone(h) // the reader reuses its record
	}
	return names, nil
}

// rawColumn holds a column's text as read, packed into one buffer, until
// the whole column has been seen and its kind can be decided.
type rawColumn struct {
	buf  []byte
	ends []uint32
}

func (c *rawColumn) add(v string) error {
	if len(c.buf)+len(v) > math.MaxUint32 {
		return errors.New("the column holds more than 4 GiB of text")
	}
	c.buf = append(c.buf, v...)
	c.ends = append(c.ends, uint32(len(c.buf)))
	return nil
}

// values returns the column's values as substrings of one string, so
// reading them allocates nothing more.
func (c *rawColumn) values() []string {
	all := string(c.buf)
	out := make([]string, len(c.ends))
	start := uint32(0)
	for i, end := range c.ends {
		out[i] = all[start:end]
		start = end
	}
	return out
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
