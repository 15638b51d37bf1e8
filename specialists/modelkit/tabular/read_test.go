package tabular

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
)

func read(t *testing.T, csv string, opts ReadOptions) *Frame {
	t.Helper()
	if opts.Target == "" {
		opts.Target = "y"
	}
	f, err := ReadCSV(strings.NewReader(csv), opts)
	if err != nil {
		t.Fatalf("ReadCSV: %v", err)
	}
	return f
}

func TestKindInference(t *testing.T) {
	tests := []struct {
		name   string
		column string // header name, then one value per row for rows y=0,1,0,1
		values []string
		opts   ReadOptions
		want   Kind
	}{
		{"numbers are numeric", "Age", []string{"42", "41.5", "-3", "1e3"}, ReadOptions{}, Numeric},
		{"numbers with blanks and NA are numeric", "Age", []string{"42", "", "NA", "null"}, ReadOptions{}, Numeric},
		{"a column with no values at all is numeric", "Age", []string{"", "", "NaN", ""}, ReadOptions{}, Numeric},
		{"zeros and ones are boolean", "HasCrCard", []string{"0", "1", "1", ""}, ReadOptions{}, Boolean},
		{"true and false in any case are boolean", "Active", []string{"TRUE", "false", "True", "NA"}, ReadOptions{}, Boolean},
		{"yes and no are boolean", "Active", []string{"yes", "No", "YES", "no"}, ReadOptions{}, Boolean},
		{"words are categorical", "Geography", []string{"France", "Spain", "France", "Germany"}, ReadOptions{}, Categorical},
		{"numbers mixed with words are categorical", "Code", []string{"12", "A7", "12", "3"}, ReadOptions{}, Categorical},
		{"distinct integers named like an id are identifiers", "CustomerId", []string{"15634602", "15647311", "15619304", "15701354"}, ReadOptions{}, Identifier},
		{"distinct integers named with _id are identifiers", "user_id", []string{"9", "4", "7", "1"}, ReadOptions{}, Identifier},
		{"integers counting from one are identifiers", "Row", []string{"1", "2", "3", "4"}, ReadOptions{}, Identifier},
		{"shuffled row numbers named RowNumber are identifiers", "RowNumber", []string{"7", "2", "9", "4"}, ReadOptions{}, Identifier},
		{"an id-named column with repeats is numeric", "CustomerId", []string{"5", "5", "6", "7"}, ReadOptions{}, Numeric},
		{"a name merely ending in id is not an identifier", "Paid", []string{"5", "8", "6", "7"}, ReadOptions{}, Numeric},
		{"more labels than MaxCategories make an identifier", "Surname", []string{"Hill", "Onio", "Boni", "Hill"}, ReadOptions{MaxCategories: 2}, Identifier},
		{"labels within MaxCategories stay categorical", "Surname", []string{"Hill", "Onio", "Boni", "Hill"}, ReadOptions{MaxCategories: 3}, Categorical},
		{"an override makes numbers categorical", "Zip", []string{"75001", "28001", "75001", "10115"}, ReadOptions{Kinds: map[string]Kind{"Zip": Categorical}}, Categorical},
		{"an override makes zeros and ones numeric", "Tenure", []string{"0", "1", "1", "0"}, ReadOptions{Kinds: map[string]Kind{"Tenure": Numeric}}, Numeric},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString(tt.column + ",y\n")
			for i, v := range tt.values {
				b.WriteString(v + "," + []string{"0", "1"}[i%2] + "\n")
			}
			f := read(t, b.String(), tt.opts)
			c, ok := f.Column(tt.column)
			if !ok {
				t.Fatalf("no column %q", tt.column)
			}
			if c.Kind != tt.want {
				t.Errorf("kind = %v, want %v", c.Kind, tt.want)
			}
			if c.Len() != f.Rows || f.Rows != len(tt.values) {
				t.Errorf("column has %d values, frame %d rows, want %d", c.Len(), f.Rows, len(tt.values))
			}
		})
	}
}

func TestReadValues(t *testing.T) {
	in := "\uFEFFid,Age,Geo,Card,y\n1, 42 ,France,yes,1\n2,NA,,no,0\n3,30, NA ,,0\n"
	f := read(t, in, ReadOptions{})
	sum := sha256.Sum256([]byte(in))
	if f.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("SHA256 = %s, want the digest of the input", f.SHA256)
	}
	if f.Rows != 3 || f.TargetName != "y" || f.Positive != "1" {
		t.Errorf("Rows, TargetName, Positive = %d, %q, %q", f.Rows, f.TargetName, f.Positive)
	}
	if got := f.Target; got[0] != 1 || got[1] != 0 || got[2] != 0 {
		t.Errorf("Target = %v", got)
	}
	if c, _ := f.Column("id"); c.Kind != Identifier || c.Num[2] != 3 {
		t.Errorf("id = %+v", c)
	}
	age, _ := f.Column("Age")
	if age.Num[0] != 42 || !math.IsNaN(age.Num[1]) || age.Num[2] != 30 {
		t.Errorf("Age = %v", age.Num)
	}
	geo, _ := f.Column("Geo")
	if geo.Kind != Categorical || geo.Cat[0] != "France" || geo.Cat[1] != "" || geo.Cat[2] != "NA" {
		t.Errorf("Geo = %+v", geo)
	}
	card, _ := f.Column("Card")
	if card.Kind != Boolean || card.Num[0] != 1 || card.Num[1] != 0 || !math.IsNaN(card.Num[2]) {
		t.Errorf("Card = %+v", card)
	}
}

func TestReadRejectsDirt(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opts ReadOptions
		want []string // phrases the error must contain
	}{
		{"an empty input needs a header", "", ReadOptions{}, []string{"header"}},
		{"a short row names its line and field counts", "a,b,y\n1,2,0\n1,1\n", ReadOptions{}, []string{"line 3", "2 fields", "header has 3"}},
		{"a long row names its line and field counts", "a,y\n1,0\n1,1,5\n", ReadOptions{}, []string{"line 3", "3 fields", "header has 2"}},
		{"a quoted newline still counts lines from the record start", "a,y\n\"x\ny\",0\n1,1,2\n", ReadOptions{}, []string{"line 4"}},
		{"invalid UTF-8 names its line and column", "a,b,y\n1,ok,0\n2,\xff\xfe,1\n", ReadOptions{}, []string{"line 3", `column "b"`, "UTF-8"}},
		{"invalid UTF-8 in the header names its column", "a,\xff,y\n1,2,0\n", ReadOptions{}, []string{"line 1", "column 2", "UTF-8"}},
		{"a bare quote is a parse error with its line", "a,y\n1,0\nx\"y,1\n", ReadOptions{}, []string{"line 3"}},
		{"duplicate column names are refused", "a,a,y\n1,2,0\n", ReadOptions{}, []string{"line 1", `"a"`}},
		{"an empty column name is refused", "a,,y\n1,2,0\n", ReadOptions{}, []string{"column 2 has no name"}},
		{"a number override names the line of a word", "a,y\n1,0\nx,1\n", ReadOptions{Kinds: map[string]Kind{"a": Numeric}}, []string{"line 3", `column "a"`, "not a number"}},
		{"a boolean override names the line of a non-boolean", "a,y\n1,0\n7,1\n", ReadOptions{Kinds: map[string]Kind{"a": Boolean}}, []string{"line 3", `column "a"`, "not a boolean"}},
		{"an override of an absent column is refused", "a,y\n1,0\n", ReadOptions{Kinds: map[string]Kind{"b": Numeric}}, []string{`"b"`, `"a", "y"`}},
		{"an override of an unknown kind is refused", "a,y\n1,0\n2,1\n", ReadOptions{Kinds: map[string]Kind{"a": Kind(9)}}, []string{"unknown kind"}},
		{"infinity is not a number", "a,y\n1,0\nInf,1\n", ReadOptions{Kinds: map[string]Kind{"a": Numeric}}, []string{"line 3", "not a number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Target = "y"
			assertBadData(t, tt.in, tt.opts, tt.want)
		})
	}
}

func TestReadRejectsBadTargets(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opts ReadOptions
		want []string
	}{
		{"a missing target column lists the columns", "a,b\n1,2\n", ReadOptions{Target: "Exited"}, []string{`"Exited"`, `"a", "b"`}},
		{"a header without rows has no data", "a,y\n", ReadOptions{}, []string{"no data rows"}},
		{"one class is not enough", "a,y\n1,1\n2,1\n", ReadOptions{}, []string{"only one class", `"1"`}},
		{"three classes are too many and are listed", "a,y\n1,cat\n2,dog\n3,cow\n", ReadOptions{Positive: "cat"}, []string{"line 4", "more than two", `"cat", "dog", "cow"`}},
		{"a blank target names its line", "a,y\n1,1\n2,\n", ReadOptions{}, []string{"line 3", "no value"}},
		{"an NA target names its line", "a,y\n1,1\n2,NA\n", ReadOptions{}, []string{"line 3", "no value"}},
		{"other labels need a positive label", "a,y\n1,churned\n2,stayed\n", ReadOptions{}, []string{`"churned", "stayed"`, "ReadOptions.Positive"}},
		{"a positive label must be one of the labels", "a,y\n1,churned\n2,stayed\n", ReadOptions{Positive: "left"}, []string{`"left"`, `"churned", "stayed"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts.Target == "" {
				tt.opts.Target = "y"
			}
			assertBadData(t, tt.in, tt.opts, tt.want)
		})
	}
}

func TestReadTargetLabels(t *testing.T) {
	tests := []struct {
		name     string
		labels   []string
		positive string
		want     []float64
		wantPos  string
	}{
		{"ones are positive", []string{"0", "1", "1"}, "", []float64{0, 1, 1}, "1"},
		{"true is positive in any case", []string{"TRUE", "false", "True"}, "", []float64{1, 0, 1}, "TRUE"},
		{"yes is positive", []string{"no", "Yes", "no"}, "", []float64{0, 1, 0}, "Yes"},
		{"1.0 reads as one", []string{"0.0", "1.0", "0"}, "", []float64{0, 1, 0}, "1.0"},
		{"a named positive label wins", []string{"stayed", "churned", "Churned"}, "churned", []float64{0, 1, 1}, "churned"},
		{"a named positive label may flip 0/1", []string{"0", "1", "1"}, "0", []float64{1, 0, 0}, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := "a,y\n"
			for i, l := range tt.labels {
				in += string(rune('0'+i)) + "," + l + "\n"
			}
			f := read(t, in, ReadOptions{Positive: tt.positive})
			for i := range tt.want {
				if f.Target[i] != tt.want[i] {
					t.Fatalf("Target = %v, want %v", f.Target, tt.want)
				}
			}
			if f.Positive != tt.wantPos {
				t.Errorf("Positive = %q, want %q", f.Positive, tt.wantPos)
			}
		})
	}
}

func TestReadNeedsATargetName(t *testing.T) {
	if _, err := ReadCSV(strings.NewReader("a,y\n1,0\n"), ReadOptions{}); err == nil {
		t.Fatal("ReadCSV without a target succeeded")
	}
}

func TestSubsetKeepsOrderAndKinds(t *testing.T) {
	f := read(t, "n,c,y\n1.5,a,0\n2.5,b,1\n3.5,a,1\n", ReadOptions{})
	s := f.Subset([]int{2, 0, 2})
	if s.Rows != 3 || s.SHA256 != f.SHA256 || s.Positive != f.Positive {
		t.Fatalf("Subset = %+v", s)
	}
	n, _ := s.Column("n")
	c, _ := s.Column("c")
	if n.Kind != Numeric || n.Num[0] != 3.5 || n.Num[1] != 1.5 || c.Kind != Categorical || c.Cat[1] != "a" {
		t.Errorf("columns = %+v %+v", n, c)
	}
	if s.Target[0] != 1 || s.Target[1] != 0 {
		t.Errorf("Target = %v", s.Target)
	}
}

func TestKindText(t *testing.T) {
	for _, k := range []Kind{Numeric, Categorical, Boolean, Identifier} {
		b, err := k.MarshalText()
		if err != nil || string(b) != k.String() {
			t.Fatalf("MarshalText(%v) = %q, %v", k, b, err)
		}
		var back Kind
		if err := back.UnmarshalText(b); err != nil || back != k {
			t.Errorf("UnmarshalText(%q) = %v, %v", b, back, err)
		}
	}
	var k Kind
	if err := k.UnmarshalText([]byte("float")); err == nil {
		t.Error(`UnmarshalText("float") succeeded`)
	}
}

func assertBadData(t *testing.T, in string, opts ReadOptions, want []string) {
	t.Helper()
	f, err := ReadCSV(strings.NewReader(in), opts)
	if err == nil {
		t.Fatalf("ReadCSV succeeded with %d rows, want an error", f.Rows)
	}
	if !errors.Is(err, ErrBadData) {
		t.Errorf("error %q does not wrap ErrBadData", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}
