package tabular

import (
	"errors"
	"strings"
	"testing"
)

func FuzzReadCSV(f *testing.F) {
	for _, seed := range []string{
		"a,y\n1,0\n2,1\n",
		"id,Geo,Card,Age,y\n1,France,yes,42,1\n2,Spain,no,NA,0\n3,,,,0\n",
		"a,y\n\"q\nr\",true\n\"s\"\"t\",false\n",
		"a,b,y\n1,2\n",
		"a,y\n1,cat\n2,dog\n",
		"\uFEFFa , y\n 1 , 1 \n2,0\n",
		"a,y\n\xff,1\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		fr, err := ReadCSV(strings.NewReader(in), ReadOptions{Target: "y", Positive: pickPositive(in)})
		if err != nil {
			if fr != nil {
				t.Fatal("ReadCSV returned a frame and an error")
			}
			if !errors.Is(err, ErrBadData) {
				t.Fatalf("error %q does not wrap ErrBadData", err)
			}
			return
		}
		if fr.Rows != len(fr.Target) {
			t.Fatalf("Rows = %d but %d targets", fr.Rows, len(fr.Target))
		}
		for _, c := range fr.Columns {
			if c.Len() != fr.Rows {
				t.Fatalf("column %q has %d values, want %d", c.Name, c.Len(), fr.Rows)
			}
			if (c.Kind == Numeric || c.Kind == Boolean) && c.Num == nil {
				t.Fatalf("%v column %q has no numbers", c.Kind, c.Name)
			}
			if c.Kind == Categorical && c.Cat == nil {
				t.Fatalf("categorical column %q has no labels", c.Name)
			}
		}
		for _, y := range fr.Target {
			if y != 0 && y != 1 {
				t.Fatalf("target %v is not 0 or 1", y)
			}
		}
	})
}

// pickPositive lets the fuzzer reach the named-label path: inputs whose
// contain "+" name the positive label "cat".
func pickPositive(in string) string {
	if strings.Contains(in, "+") {
		return "cat"
	}
	return ""
}
