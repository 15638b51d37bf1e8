package tabular

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kind is what a column holds, which decides how the feature step uses it.
type Kind int

const (
	// Numeric columns hold numbers; missing values are NaN.
	Numeric Kind = iota
	// Categorical columns hold labels from a small set; "" is missing.
	Categorical
	// Boolean columns hold 0 or 1 (read from 0/1, true/false or yes/no);
	// missing values are NaN.
	Boolean
	// Identifier columns name a row (a customer id, a row number, a
	// surname) and carry no signal a model should learn from.
	Identifier
)

var kindNames = [...]string{"numeric", "categorical", "boolean", "identifier"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return kindNames[k]
}

// MarshalText writes the kind's name, so kinds read well in JSON.
func (k Kind) MarshalText() ([]byte, error) {
	if k < 0 || int(k) >= len(kindNames) {
		return nil, fmt.Errorf("tabular: unknown kind %d", int(k))
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText reads a kind's name as written by MarshalText.
func (k *Kind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if string(b) == n {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("tabular: unknown kind %q (want one of %s)", b, strings.Join(kindNames[:], ", "))
}

// IsMissing reports whether a value means "no value" in a numeric or
// boolean column: blank, or NA, NaN or null in any case. Categorical
// columns treat only blank as missing, because "NA" may be a real label
// (North America).
func IsMissing(s string) bool {
	if len(s) > 0 && s[0] > ' ' && s[0] < 0x80 && s[0] != 'n' && s[0] != 'N' {
		return false // the common case, decided without trimming
	}
	s = strings.TrimSpace(s)
	if len(s) > 4 {
		return false
	}
	switch strings.ToLower(s) {
	case "", "na", "nan", "null":
		return true
	}
	return false
}

// ParseNumber reads a numeric value the way ReadCSV does: surrounding
// space is ignored, a missing value (see IsMissing) is NaN, and anything
// that is not a finite number is an error.
func ParseNumber(s string) (float64, error) {
	if IsMissing(s) {
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

// ParseBool reads a boolean value the way ReadCSV does: 1, true or yes is
// 1; 0, false or no is 0 (any case); a missing value is NaN.
func ParseBool(s string) (float64, error) {
	if IsMissing(s) {
		return math.NaN(), nil
	}
	switch v, _ := boolToken(strings.TrimSpace(s)); v {
	case 1:
		return 1, nil
	case 0:
		return 0, nil
	}
	return 0, fmt.Errorf("%q is not a boolean (want 0/1, true/false or yes/no)", s)
}

// boolToken returns 1 or 0 for a boolean word and -1 for anything else.
func boolToken(s string) (int, bool) {
	if len(s) > 5 {
		return -1, false
	}
	switch strings.ToLower(s) {
	case "1", "true", "yes":
		return 1, true
	case "0", "false", "no":
		return 0, true
	}
	return -1, false
}
