package planner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/planner"
)

func TestPlanFilesRoundTrip(t *testing.T) {
	p := mustDecompose(t, churnGoal, nil)
	data, err := planner.WriteYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := planner.ReadYAML(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(normalize(back), normalize(p)) {
		t.Errorf("the plan read back differs:\n%s", data)
	}
	if back.Subtasks()[3].Timeout == 0 {
		t.Errorf("train-models lost its timeout:\n%s", data)
	}
}

// normalize drops what YAML does not distinguish: nil and empty maps.
func normalize(p *planner.Plan) *planner.Plan {
	c := p.Clone()
	for i := range c.Phases {
		for j := range c.Phases[i].Subtasks {
			if len(c.Phases[i].Subtasks[j].Params) == 0 {
				c.Phases[i].Subtasks[j].Params = nil
			}
		}
	}
	return c
}

func TestBadPlanFilesNameTheLineAndField(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"not yaml", "name: [unclosed\n", []string{"line 1"}},
		{"empty", "", []string{"line 1", "empty"}},
		{"no name", "phases:\n  - name: a\n    subtasks: []\n", []string{"line 1: name: required"}},
		{"an unknown field", "name: p\nowner: me\nphases:\n  - name: a\n    subtasks: []\n", []string{"line 2: owner: unknown field"}},
		{"a subtask without a role", "name: p\nphases:\n  - name: a\n    subtasks:\n      - id: x\n        skill: s\n", []string{"line 5: phases[0].subtasks[0].role: required"}},
		{"a misspelt subtask field", "name: p\nphases:\n  - name: a\n    subtasks:\n      - id: x\n        role: r\n        skill: s\n        depends: [y]\n", []string{"line 8: phases[0].subtasks[0].depends: unknown field"}},
		{"a bad priority", "name: p\nphases:\n  - name: a\n    subtasks:\n      - id: x\n        role: r\n        skill: s\n        priority: urgent\n", []string{"line 8: phases[0].subtasks[0].priority"}},
		{"a bad timeout", "name: p\nphases:\n  - name: a\n    subtasks:\n      - id: x\n        role: r\n        skill: s\n        timeout: soon\n", []string{"line 8: phases[0].subtasks[0].timeout", "15m"}},
		{"a list for a name", "name: [a, b]\nphases:\n  - name: a\n    subtasks: []\n", []string{"line 1: name: want a single value"}},
		{"a duplicate id", "name: p\nphases:\n  - name: a\n    subtasks:\n      - {id: x, role: r, skill: s}\n      - {id: x, role: r, skill: s}\n", []string{"line 6: phases[0].subtasks[1].id: duplicate id \"x\" (first on line 5)"}},
		{"an unknown dependency", "name: p\nphases:\n  - name: a\n    subtasks:\n      - id: x\n        role: r\n        skill: s\n        depends_on:\n          - nope\n", []string{"line 9: phases[0].subtasks[0].depends_on[0]: unknown subtask \"nope\""}},
		{"a cycle across phases", "name: p\nphases:\n  - name: a\n    subtasks:\n      - {id: x, role: r, skill: s, depends_on: [y]}\n  - name: b\n    subtasks:\n      - {id: y, role: r, skill: s, depends_on: [x]}\n", []string{"dependency cycle: x -> y -> x"}},
		{"params that are not strings", "name: p\nphases:\n  - name: a\n    subtasks:\n      - id: x\n        role: r\n        skill: s\n        params:\n          rows: [1, 2]\n", []string{"line 9: phases[0].subtasks[0].params.rows: want a single value"}},
	} {
		_, err := planner.ReadYAML([]byte(tc.file))
		if !errors.Is(err, planner.ErrInvalidPlan) {
			t.Errorf("%s: err = %v, want an invalid plan", tc.name, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tc.name, err, w)
			}
		}
	}
}

// The JSON Schema in the repository describes exactly the fields plan
// files have.
func TestTheJSONSchemaNamesEveryField(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", planner.SchemaPath))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Required   []string `json:"required"`
		Properties map[string]struct {
			Items struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"items"`
		} `json:"properties"`
		Defs struct {
			Subtask struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"subtask"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	check := func(what string, typ reflect.Type, got []string) {
		var want []string
		for i := range typ.NumField() {
			if tag := strings.Split(typ.Field(i).Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
				want = append(want, tag)
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: the schema has %v, the Go type %v", what, got, want)
		}
	}
	var top []string
	for k := range schema.Properties {
		top = append(top, k)
	}
	check("plan", reflect.TypeFor[planner.Plan](), top)
	var phase, history, subtask []string
	for k := range schema.Properties["phases"].Items.Properties {
		phase = append(phase, k)
	}
	for k := range schema.Properties["history"].Items.Properties {
		history = append(history, k)
	}
	for k := range schema.Defs.Subtask.Properties {
		subtask = append(subtask, k)
	}
	check("phase", reflect.TypeFor[planner.Phase](), phase)
	check("history entry", reflect.TypeFor[planner.Change](), history)
	check("subtask", reflect.TypeFor[planner.Subtask](), subtask)
}

func TestSavedPlansAreLoadedByName(t *testing.T) {
	r := testenv.StartRedis(t)
	store := planner.NewPlans(r.Client(t), r.Prefix)
	ctx := context.Background()
	p := mustDecompose(t, churnGoal, nil)
	if err := store.Save(ctx, p); err != nil {
		t.Fatal(err)
	}
	back, err := store.Load(ctx, "ml-churn-system")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalize(back), normalize(p)) {
		t.Error("the loaded plan differs from the saved one")
	}
	if names, err := store.Names(ctx); err != nil || !slices.Equal(names, []string{"ml-churn-system"}) {
		t.Errorf("names %v, %v", names, err)
	}
	if _, err := store.Load(ctx, "nope"); !errors.Is(err, planner.ErrNoPlan) {
		t.Errorf("missing plan: err = %v, want ErrNoPlan", err)
	}
	p.Name = "bad name"
	if err := store.Save(ctx, p); !errors.Is(err, planner.ErrInvalidPlan) {
		t.Errorf("bad name: err = %v", err)
	}
}

func TestHostilePlanFilesAreRefused(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x]\n"
	for i, prev := 0, "a"; i < 12; i++ {
		name := fmt.Sprintf("b%d", i)
		bomb += fmt.Sprintf("%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	for name, file := range map[string]string{
		"a billion laughs":      "name: p\n" + bomb + "phases: []\n",
		"deep nesting":          "name: p\nphases: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n",
		"a 10 MB string":        "name: p\ngoal: " + strings.Repeat("x", 10<<20) + "\nphases: []\n",
		"a NUL byte":            "name: p\x00\nphases: []\n",
		"a name with a slash":   "name: ../../etc\nphases:\n  - name: a\n    subtasks: []\n",
		"a non-mapping root":    "- 1\n- 2\n",
		"a subtask as a scalar": "name: p\nphases:\n  - name: a\n    subtasks:\n      - just-a-string\n",
	} {
		done := make(chan error, 1)
		go func() {
			_, err := planner.ReadYAML([]byte(file))
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, planner.ErrInvalidPlan) {
				t.Errorf("%s: err = %v, want an invalid plan", name, err)
			} else if !strings.Contains(err.Error(), "line ") {
				t.Errorf("%s: error %q names no line", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: ReadYAML did not return within 10s", name)
		}
	}
}

func FuzzReadYAML(f *testing.F) {
	p, _ := planner.Decompose(churnGoal, nil)
	churn, _ := planner.WriteYAML(p)
	f.Add(churn)
	f.Add([]byte("name: p\nphases:\n  - name: a\n    subtasks:\n      - {id: x, role: r, skill: s, depends_on: [y]}\n"))
	f.Add([]byte("name: [1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		plan, err := planner.ReadYAML(data)
		if err != nil {
			if !errors.Is(err, planner.ErrInvalidPlan) {
				t.Fatalf("error %v does not wrap ErrInvalidPlan", err)
			}
			return
		}
		// What it accepts writes back and reads again as the same plan.
		out, err := planner.WriteYAML(plan)
		if err != nil {
			t.Fatal(err)
		}
		again, err := planner.ReadYAML(out)
		if err != nil {
			t.Fatalf("a plan it accepted does not read back: %v\n%s", err, out)
		}
		if len(again.Subtasks()) != len(plan.Subtasks()) {
			t.Fatalf("%d subtasks became %d", len(plan.Subtasks()), len(again.Subtasks()))
		}
	})
}

// Tools that rewrite plan files write YAML timestamps their own way.
func TestHistoryTimesInOtherTimestampForms(t *testing.T) {
	file := "name: p\nphases:\n  - name: a\n    subtasks:\n      - {id: x, role: r, skill: s}\nhistory:\n  - time: 2026-11-26 04:33:44+00:00\n    action: created\n  - time: 2026-11-26T04:35:00Z\n    action: approved\n"
	p, err := planner.ReadYAML([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.History) != 2 || p.History[0].Time.Minute() != 33 || p.History[1].Action != "approved" {
		t.Errorf("history %+v", p.History)
	}
}
