package synth_test

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"testing"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/synth"
)

func generate(t *testing.T, rows int, seed uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := synth.Churn(&buf, rows, seed); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestTheSameSeedGivesTheSameBytes(t *testing.T) {
	a, b := generate(t, 500, 7), generate(t, 500, 7)
	if !bytes.Equal(a, b) {
		t.Fatal("two generations with seed 7 differ")
	}
	if bytes.Equal(a, generate(t, 500, 8)) {
		t.Fatal("seeds 7 and 8 give the same data")
	}
}

func TestEveryRowIsWellFormedAndChurnIsRealistic(t *testing.T) {
	records, err := csv.NewReader(bytes.NewReader(generate(t, 20000, 1))).ReadAll()
	if err != nil {
		t.Fatalf("not valid CSV: %v", err)
	}
	if len(records) != 20001 || len(records[0]) != len(synth.ChurnHeader) {
		t.Fatalf("%d records of %d fields", len(records), len(records[0]))
	}
	col := map[string]int{}
	for i, name := range records[0] {
		col[name] = i
	}
	churned, byProducts, countByProducts := 0.0, map[string]float64{}, map[string]float64{}
	for _, r := range records[1:] {
		y, err := strconv.ParseFloat(r[col["Exited"]], 64)
		if err != nil || (y != 0 && y != 1) {
			t.Fatalf("label %q", r[col["Exited"]])
		}
		churned += y
		byProducts[r[col["NumOfProducts"]]] += y
		countByProducts[r[col["NumOfProducts"]]]++
	}
	rate := churned / 20000
	if rate < 0.10 || rate > 0.35 {
		t.Errorf("churn rate %.3f, want between 0.10 and 0.35", rate)
	}
	// The signal is not monotonic in the number of products: two churn
	// least, three or more churn most, as in real bank data.
	one, two, three := byProducts["1"]/countByProducts["1"], byProducts["2"]/countByProducts["2"], byProducts["3"]/countByProducts["3"]
	if !(two < one && one < three) {
		t.Errorf("churn by products 1/2/3 = %.3f/%.3f/%.3f; want 2 < 1 < 3", one, two, three)
	}
}

func TestNoRowsIsAnError(t *testing.T) {
	if err := synth.Churn(&bytes.Buffer{}, 0, 1); err == nil {
		t.Fatal("0 rows accepted")
	}
}

func BenchmarkChurnRow(b *testing.B) {
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		_ = synth.Churn(&buf, 1000, 1)
	}
}
