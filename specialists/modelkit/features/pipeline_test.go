package features

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/tabular"
)

func read(t *testing.T, csv string) *tabular.Frame {
	t.Helper()
	f, err := tabular.ReadCSV(strings.NewReader(csv), tabular.ReadOptions{Target: "y"})
	if err != nil {
		t.Fatalf("ReadCSV: %v", err)
	}
	return f
}

const tiny = `id,Age,Card,Geo,y
1,20,1,France,0
2,,0,Spain,1
3,40,,France,0
4,30,1,,1
`

func TestFitLearnsEachKind(t *testing.T) {
	p, err := Fit(read(t, tiny))
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"Age", "Age_missing", "Card", "Card_missing", "Geo=France", "Geo=Spain", "Geo=other"}
	if got := p.Names(); !slices.Equal(got, wantNames) {
		t.Fatalf("Names = %q, want %q", got, wantNames)
	}
	age := p.Inputs[0]
	// Age present values 20, 40, 30: mean 30, population std sqrt(200/3), median 30.
	if age.Mean != 30 || math.Abs(age.Std-math.Sqrt(200.0/3)) > 1e-12 || age.Median != 30 || !age.Missing {
		t.Errorf("Age input = %+v", age)
	}
	if geo := p.Inputs[2]; !slices.Equal(geo.Categories, []string{"France", "Spain"}) {
		t.Errorf("Geo categories = %q", geo.Categories)
	}
}

func TestTransformValues(t *testing.T) {
	f := read(t, tiny)
	p, err := Fit(f)
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Transform(f)
	if err != nil {
		t.Fatal(err)
	}
	s := math.Sqrt(200.0 / 3)
	// Standardized values are rounded to float32, the precision of the
	// ONNX graphs that serve the models.
	f32 := func(v float64) float64 { return float64(float32(v)) }
	want := [][]float64{
		{f32(-10 / s), 0, 1, 0, 1, 0, 0},
		{0, 1, 0, 0, 0, 1, 0}, // Age imputed with the median, 30
		{f32(10 / s), 0, 0, 1, 1, 0, 0},
		{0, 0, 1, 0, 0, 0, 1}, // a missing Geo goes to other
	}
	if m.Rows != 4 || m.Cols != 7 {
		t.Fatalf("matrix is %dx%d, want 4x7", m.Rows, m.Cols)
	}
	for i, row := range want {
		for j, v := range row {
			if m.Row(i)[j] != v {
				t.Errorf("row %d = %v, want %v", i, m.Row(i), row)
				break
			}
		}
	}
}

func TestTransformRecord(t *testing.T) {
	p, err := Fit(read(t, tiny))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		rec  map[string]string
		want []float64 // nil when an error is expected
	}{
		{"an unseen category goes to other", map[string]string{"Age": "30", "Card": "yes", "Geo": "Germany"}, []float64{0, 0, 1, 0, 0, 0, 1}},
		{"absent fields count as missing", map[string]string{}, []float64{0, 1, 0, 1, 0, 0, 1}},
		{"surrounding space is ignored", map[string]string{"Age": " 30 ", "Card": " 0", "Geo": " Spain "}, []float64{0, 0, 0, 0, 0, 1, 0}},
		{"extra fields are ignored", map[string]string{"id": "x", "Age": "30", "Card": "1", "Geo": "France"}, []float64{0, 0, 1, 0, 1, 0, 0}},
		{"a bad number is an error", map[string]string{"Age": "old"}, nil},
		{"a bad boolean is an error", map[string]string{"Card": "maybe"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.TransformRecord(tt.rec)
			if tt.want == nil {
				if !errors.Is(err, ErrBadValue) {
					t.Fatalf("error = %v, want ErrBadValue", err)
				}
				for field := range tt.rec {
					if !strings.Contains(err.Error(), fmt.Sprintf("%q", field)) {
						t.Errorf("error %q does not name field %q", err, field)
					}
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("TransformRecord = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestTransformNeedsEveryColumn(t *testing.T) {
	p, err := Fit(read(t, tiny))
	if err != nil {
		t.Fatal(err)
	}
	other := read(t, "Age,Geo,y\n1,France,0\n2,Spain,1\n")
	if _, err := p.Transform(other); !errors.Is(err, ErrMissingColumn) || !strings.Contains(err.Error(), `"Card"`) {
		t.Fatalf("error = %v, want ErrMissingColumn naming Card", err)
	}
}

func TestTransformRecordMatchesTransform(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		csv, records := generate(seed, 60)
		f := read(t, csv)
		p, err := Fit(f)
		if err != nil {
			t.Fatal(err)
		}
		// Score a second frame too, so unseen categories and missing values
		// the training frame lacked are covered.
		csv2, records2 := generate(seed+1000, 40)
		f2, err := tabular.ReadCSV(strings.NewReader(csv2), tabular.ReadOptions{Target: "y", Kinds: p.Kinds()})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			f    *tabular.Frame
			recs []map[string]string
		}{{f, records}, {f2, records2}} {
			m, err := p.Transform(c.f)
			if err != nil {
				t.Fatal(err)
			}
			for i, rec := range c.recs {
				got, err := p.TransformRecord(rec)
				if err != nil {
					t.Fatalf("seed %d row %d: %v", seed, i, err)
				}
				if !slices.Equal(got, m.Row(i)) {
					t.Fatalf("seed %d row %d: TransformRecord(%v) = %v, Transform row = %v", seed, i, rec, got, m.Row(i))
				}
			}
		}
	}
}

func TestJSONRoundTripTransformsAlike(t *testing.T) {
	csv, records := generate(7, 80)
	f := read(t, csv)
	p, err := Fit(f)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Pipeline
	if err := json.Unmarshal(blob, &back); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Names(), back.Names()) {
		t.Fatalf("names differ: %q vs %q", p.Names(), back.Names())
	}
	a, errA := p.Transform(f)
	b, errB := back.Transform(f)
	if errA != nil || errB != nil || !slices.Equal(a.Data, b.Data) {
		t.Fatalf("transforms differ after a JSON round trip (%v, %v)", errA, errB)
	}
	for _, rec := range records {
		x, _ := p.TransformRecord(rec)
		y, _ := back.TransformRecord(rec)
		if !slices.Equal(x, y) {
			t.Fatalf("TransformRecord differs after a JSON round trip: %v vs %v", x, y)
		}
	}
	if !strings.Contains(string(blob), `"kind":"categorical"`) {
		t.Errorf("kinds are not written by name: %s", blob)
	}
}

func TestInvalidPipelineIsRefused(t *testing.T) {
	tests := []struct {
		name string
		json string
	}{
		{"a pipeline without inputs", `{"inputs":[]}`},
		{"unsorted categories", `{"inputs":[{"name":"Geo","kind":"categorical","categories":["Spain","France"]}]}`},
		{"a zero standard deviation", `{"inputs":[{"name":"Age","kind":"numeric","std":0}]}`},
		{"an identifier input", `{"inputs":[{"name":"id","kind":"identifier"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			var p Pipeline
			if err := json.Unmarshal([]byte(tt.json), &p); err != nil {
				t.Fatal(err)
			}
			if _, err := p.TransformRecord(nil); !errors.Is(err, ErrInvalidPipeline) {
				t.Errorf("error = %v, want ErrInvalidPipeline", err)
			}
		})
	}
}

func TestOtherBucketStepsAsideForARealOtherCategory(t *testing.T) {
	p, err := Fit(read(t, "Kind,y\nother,0\nhome,1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Names(); !slices.Equal(got, []string{"Kind=home", "Kind=other", "Kind=other_"}) {
		t.Errorf("Names = %q", got)
	}
}

// generate returns a random churn-like CSV of n rows with dirt (blanks,
// NA, spaces, unseen labels) and the same rows as records, the way a JSON
// request would carry them: missing values sometimes left out entirely.
func generate(seed uint64, n int) (string, []map[string]string) {
	rng := rand.New(rand.NewPCG(seed, 99))
	geos := []string{"France", "Spain", "Germany", fmt.Sprintf("Land%d", seed%3), ""} // Land* differs between seed and seed+1000
	var b strings.Builder
	b.WriteString("CustomerId,Age,Balance,HasCrCard,Geography,y\n")
	recs := make([]map[string]string, n)
	for i := range n {
		age := fmt.Sprint(18 + rng.IntN(60))
		if rng.IntN(6) == 0 {
			age = []string{"", "NA", " null "}[rng.IntN(3)]
		}
		bal := fmt.Sprintf(" %.2f", rng.Float64()*1e5)
		card := []string{"0", "1", "yes", "No", ""}[rng.IntN(5)]
		geo := geos[rng.IntN(len(geos))]
		fmt.Fprintf(&b, "%d,%s,%s,%s,%s,%d\n", 1000+i*7, age, bal, card, geo, i%2)
		rec := map[string]string{"CustomerId": fmt.Sprint(1000 + i*7), "Age": age, "Balance": bal, "HasCrCard": card, "Geography": geo}
		for k, v := range rec {
			if strings.TrimSpace(v) == "" && rng.IntN(2) == 0 {
				delete(rec, k)
			}
		}
		recs[i] = rec
	}
	return b.String(), recs
}
