package tabular

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// buildColumn turns a column's raw text into typed values, inferring its
// kind unless the caller overrides it.
func buildColumn(name string, raw *rawColumn, lines []int, kind Kind, override bool, maxCat int) (Column, error) {
	vals := raw.values()
	col := Column{Name: name, Kind: kind}
	if !override {
		col.Kind, col.Num = inferKind(name, vals, maxCat)
	}
	var err error
	switch {
	case col.Num != nil:
	case col.Kind == Numeric:
		col.Num, err = parseAll(name, vals, lines, ParseNumber)
	case col.Kind == Boolean:
		col.Num, err = parseAll(name, vals, lines, ParseBool)
	case col.Kind == Categorical:
		col.Cat = intern(vals)
	case col.Kind == Identifier:
		// An identifier keeps numbers as numbers when it can, text otherwise.
		if col.Num, err = parseAll(name, vals, lines, ParseNumber); err != nil {
			col.Num, col.Cat, err = nil, vals, nil
		}
	default:
		err = fmt.Errorf("%w: ReadOptions.Kinds gives column %q the unknown kind %d", ErrBadData, name, int(col.Kind))
	}
	if err != nil {
		return Column{}, err
	}
	return col, nil
}

// inferKind decides what a column holds from its values, ignoring missing
// ones:
//   - only boolean words (0/1, true/false, yes/no): Boolean;
//   - only numbers: Numeric, or Identifier when the values are distinct
//     integers and either the name says id (CustomerId, user_id) or they
//     count 1, 2, 3, ... like a row number;
//   - anything else: Categorical, or Identifier when there are more than
//     maxCat distinct labels, since one-hot encoding that many labels
//     (surnames, emails) would only let a model memorize rows;
//   - nothing at all: Numeric, every value missing.
//
// For numeric kinds it also returns the parsed values.
func inferKind(name string, vals []string, maxCat int) (Kind, []float64) {
	isBool, isNum, present := true, true, 0
	nums := make([]float64, len(vals)) // parsed in the same pass, as most columns are numbers
	for i, v := range vals {
		if IsMissing(v) {
			nums[i] = math.NaN()
			continue
		}
		present++
		if isBool {
			_, isBool = boolToken(v)
		}
		if isNum {
			x, err := ParseNumber(v)
			isNum = err == nil
			nums[i] = x
		}
		if !isBool && !isNum {
			break
		}
	}
	if present > 0 && isBool {
		nums, _ := parseAll(name, vals, nil, ParseBool)
		return Boolean, nums
	}
	if isNum {
		if present > 0 && looksLikeID(name, nums) {
			return Identifier, nums
		}
		return Numeric, nums
	}
	distinct := make(map[string]struct{})
	for _, v := range vals {
		if v != "" {
			distinct[v] = struct{}{}
		}
		if len(distinct) > maxCat {
			return Identifier, nil
		}
	}
	return Categorical, nil
}

// looksLikeID reports whether numbers are distinct integers that name rows
// rather than measure anything.
func looksLikeID(name string, nums []float64) bool {
	for _, v := range nums {
		if math.IsNaN(v) || v != math.Trunc(v) {
			return false
		}
	}
	if len(nums) >= 3 && (nums[0] == 0 || nums[0] == 1) {
		counting := true
		for i, v := range nums {
			if v != nums[0]+float64(i) {
				counting = false
				break
			}
		}
		if counting {
			return true
		}
	}
	if !idName(name) {
		return false
	}
	sorted := slices.Clone(nums)
	slices.Sort(sorted)
	return len(slices.Compact(sorted)) == len(nums)
}

// idName reports whether a column name says it holds identifiers: "id",
// a name ending in "Id", "ID", "_id", "-id", ".id" or " id" (but not
// "Paid"), or a row number's name (RowNumber, row_num, index), which
// matters once a split has shuffled the rows out of counting order.
func idName(name string) bool {
	lower := strings.ToLower(name)
	switch strings.NewReplacer("_", "", "-", "", " ", "", ".", "").Replace(lower) {
	case "rownumber", "rownum", "rowindex", "rowid", "index":
		return true
	}
	if lower == "id" || strings.HasSuffix(name, "Id") || (len(name) > 2 && strings.HasSuffix(name, "ID")) {
		return true
	}
	for _, sep := range []string{"_", "-", ".", " "} {
		if strings.HasSuffix(lower, sep+"id") {
			return true
		}
	}
	return false
}

// parseAll parses every value of a column, naming the line of the first
// value that does not parse (lines may be nil when the caller knows every
// value parses).
func parseAll(name string, vals []string, lines []int, parse func(string) (float64, error)) ([]float64, error) {
	out := make([]float64, len(vals))
	for i, v := range vals {
		x, err := parse(v)
		if err != nil {
			line := 0
			if i < len(lines) {
				line = lines[i]
			}
			return nil, fmt.Errorf("%w: line %d, column %q: %v", ErrBadData, line, name, err)
		}
		out[i] = x
	}
	return out, nil
}

// intern copies each distinct label once, so a categorical column holds a
// few small strings and not the column's whole text.
func intern(vals []string) []string {
	seen := make(map[string]string)
	out := make([]string, len(vals))
	for i, v := range vals {
		s, ok := seen[v]
		if !ok {
			s = strings.Clone(v)
			seen[v] = s
		}
		out[i] = s
	}
	return out
}
