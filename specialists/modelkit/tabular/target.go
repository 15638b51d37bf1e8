package tabular

import (
	"fmt"
	"strconv"
	"strings"
)

// targetReader turns target labels into class codes while the file is
// read, failing at the first line that shows the target is unusable.
type targetReader struct {
	name  string
	keys  []string // at most two class keys, in order of first sight
	first []string // the label as first written, for messages
	codes []uint8  // index into keys, per row
}

// classKey says which class a label belongs to: the boolean words and the
// numbers 0 and 1 fall into "0" and "1"; other labels match without regard
// to case.
func classKey(label string) string {
	if v, ok := boolToken(label); ok {
		return strconv.Itoa(v)
	}
	if v, err := strconv.ParseFloat(label, 64); err == nil && (v == 0 || v == 1) {
		return strconv.Itoa(int(v))
	}
	return strings.ToLower(label)
}

func (t *targetReader) add(label string, line int) error {
	if IsMissing(label) {
		return fmt.Errorf("%w: line %d: the target %q has no value; every row needs a label", ErrBadData, line, t.name)
	}
	key := classKey(label)
	code := -1
	for i, k := range t.keys {
		if k == key {
			code = i
		}
	}
	if code < 0 {
		if len(t.keys) == 2 {
			return fmt.Errorf("%w: line %d: the target %q has more than two classes: %s, %q; binary classification needs exactly two",
				ErrBadData, line, t.name, quoteAll(t.first), label)
		}
		code = len(t.keys)
		t.keys = append(t.keys, key)
		t.first = append(t.first, strings.Clone(label))
	}
	t.codes = append(t.codes, uint8(code))
	return nil
}

// labels returns the 0/1 targets and the label read as positive.
func (t *targetReader) labels(positive string) ([]float64, string, error) {
	switch len(t.keys) {
	case 0:
		return nil, "", fmt.Errorf("%w: there are no data rows after the header", ErrBadData)
	case 1:
		return nil, "", fmt.Errorf("%w: the target %q has only one class, %q; binary classification needs two", ErrBadData, t.name, t.first[0])
	}
	pos := -1
	switch {
	case positive != "":
		pk := classKey(strings.TrimSpace(positive))
		for i, k := range t.keys {
			if k == pk {
				pos = i
			}
		}
		if pos < 0 {
			return nil, "", fmt.Errorf("%w: the positive label %q is not one of the target %q labels %s", ErrBadData, positive, t.name, quoteAll(t.first))
		}
	case t.keys[0] == "1" && t.keys[1] == "0":
		pos = 0
	case t.keys[0] == "0" && t.keys[1] == "1":
		pos = 1
	default:
		return nil, "", fmt.Errorf("%w: the target %q has labels %s; set ReadOptions.Positive to the label of the positive class", ErrBadData, t.name, quoteAll(t.first))
	}
	y := make([]float64, len(t.codes))
	for i, c := range t.codes {
		if int(c) == pos {
			y[i] = 1
		}
	}
	return y, t.first[pos], nil
}
