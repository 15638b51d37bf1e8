package llmplan_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/orchestrate-dev/orchestrate/internal/fakemodel"
	"github.com/orchestrate-dev/orchestrate/planner/llmplan"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/builtin"
	"github.com/orchestrate-dev/orchestrate/specialists/llmagent"
)

const keyEnv = "LLMPLAN_TEST_KEY"

// registry holds the builtin skills, a free-form skill for the architect
// (as an llm role has) and the collector's.
func registry() *specialists.Registry {
	r := specialists.NewRegistry()
	builtin.Register(r)
	none := func(context.Context, *specialists.Request) (*specialists.Result, error) {
		return &specialists.Result{}, nil
	}
	r.Register(specialists.RoleMLArchitect, specialists.SkillFreeForm, none)
	r.Register(specialists.RoleCollector, "assemble", none)
	return r
}

func answer(t *testing.T, id string, plan any) fakemodel.Reply {
	t.Helper()
	text, ok := plan.(string)
	if !ok {
		data, err := json.Marshal(plan)
		if err != nil {
			t.Fatal(err)
		}
		text = string(data)
	}
	return fakemodel.Reply{Uses: []fakemodel.Use{{ID: id, Name: "submit_plan", Input: map[string]string{"plan": text}}}}
}

type sub = map[string]any

// nlpPlan is a plan of a goal outside the catalog: a free-form design by
// the architect, then builtin skills.
var nlpPlan = map[string]any{
	"name": "contract-analysis",
	"phases": []any{
		map[string]any{"name": "Design", "days": "1", "subtasks": []any{
			sub{"id": "design", "title": "Transformer architecture for clause extraction", "role": "ml-systems-architect",
				"skill": "free-form", "instructions": "Write docs/design.md and orchestrate.yaml.", "priority": "high"},
		}},
		map[string]any{"name": "Serving", "days": "2-3", "subtasks": []any{
			sub{"id": "serving", "title": "Serve the model", "role": "backend-systems-engineer", "skill": "serving", "depends_on": []string{"design"}},
		}},
	},
}

func config(s *fakemodel.Server) llmagent.Config {
	return llmagent.Config{Model: "claude-sonnet-4-5", BaseURL: s.URL, APIKeyEnv: keyEnv, MaxRetries: 1}
}

const goal = "Create an intelligent document processing system using transformer models for contract analysis"

func TestAValidPlanIsTakenAsTheModelGivesIt(t *testing.T) {
	t.Setenv(keyEnv, "k")
	s := fakemodel.Start(t, "k", answer(t, "p1", nlpPlan))
	p, usage, err := llmplan.Decompose(context.Background(), config(s), goal, map[string]string{"volume": "10K"}, registry())
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "contract-analysis" || p.Goal != goal || p.Answers["volume"] != "10K" {
		t.Errorf("plan %q goal %q answers %v", p.Name, p.Goal, p.Answers)
	}
	var ids []string
	for _, st := range p.Subtasks() {
		ids = append(ids, st.ID+"/"+st.Role+"/"+st.Skill)
	}
	if got := strings.Join(ids, " "); got != "design/ml-systems-architect/free-form serving/backend-systems-engineer/serving collect/collector/assemble" {
		t.Errorf("subtasks %s", got)
	}
	if usage.Calls != 1 || usage.CostUSD <= 0 {
		t.Errorf("usage %+v", usage)
	}
	if len(p.History) != 1 || !strings.Contains(p.History[0].Detail, "llm planner (claude-sonnet-4-5") {
		t.Errorf("history %+v", p.History)
	}
	// The prompt tells the model the goal and what every role can do.
	reqs := s.Requests()
	msgs := reqs[0]["messages"].([]any)
	prompt, _ := json.Marshal(msgs[0])
	for _, want := range []string{goal, "backend-systems-engineer: ab-testing, load-test, serving", "volume: 10K", "orchestrate.yaml"} {
		if !strings.Contains(string(prompt), want) {
			t.Errorf("the prompt does not mention %q", want)
		}
	}
}

// An invalid plan is sent back once with what is wrong; the repaired plan
// is taken.
func TestAnInvalidPlanIsRepairedOnce(t *testing.T) {
	t.Setenv(keyEnv, "k")
	bad := map[string]any{"name": "x", "phases": []any{map[string]any{"name": "A", "subtasks": []any{
		sub{"id": "a", "title": "A", "role": "data-pipeline-engineer", "skill": "free-form", "instructions": "do it"},
		sub{"id": "b", "title": "B", "role": "wizard", "skill": "magic", "depends_on": []string{"a"}},
	}}}}
	s := fakemodel.Start(t, "k", answer(t, "p1", bad), answer(t, "p2", nlpPlan))
	p, usage, err := llmplan.Decompose(context.Background(), config(s), goal, nil, registry())
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "contract-analysis" || usage.Calls != 2 {
		t.Errorf("plan %q after %d calls", p.Name, usage.Calls)
	}
	reqs := s.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	res := fakemodel.ToolResults(reqs[1])["p1"]
	text := fakemodel.Text(res)
	if res["is_error"] != true || !strings.Contains(text, "data-pipeline-engineer runs only its builtin skills") {
		t.Errorf("the repair request says %q (is_error %v)", text, res["is_error"])
	}
}

func TestAPlanStillInvalidAfterTheRepairIsRefused(t *testing.T) {
	t.Setenv(keyEnv, "k")
	cyclic := map[string]any{"name": "x", "phases": []any{map[string]any{"name": "A", "subtasks": []any{
		sub{"id": "a", "title": "A", "role": "backend-systems-engineer", "skill": "serving", "depends_on": []string{"b"}},
		sub{"id": "b", "title": "B", "role": "backend-systems-engineer", "skill": "load-test", "depends_on": []string{"a"}},
	}}}}
	s := fakemodel.Start(t, "k", answer(t, "p1", "not json {"), answer(t, "p2", cyclic), answer(t, "p3", nlpPlan))
	_, _, err := llmplan.Decompose(context.Background(), config(s), goal, nil, registry())
	if !errors.Is(err, llmagent.ErrNoAnswer) || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("err = %v, want ErrNoAnswer naming the cycle", err)
	}
	if n := len(s.Requests()); n != 2 {
		t.Errorf("%d requests, want 2: one plan and one repair", n)
	}
}

// The plan's subtasks are checked by the same rules as a plan file.
func TestThePlanIsCheckedAsAPlanFile(t *testing.T) {
	t.Setenv(keyEnv, "k")
	unknownField := map[string]any{"name": "x", "owner": "me", "phases": []any{map[string]any{"name": "A", "subtasks": []any{
		sub{"id": "a", "title": "A", "role": "backend-systems-engineer", "skill": "serving"},
	}}}}
	s := fakemodel.Start(t, "k", answer(t, "p1", unknownField), answer(t, "p2", unknownField))
	_, _, err := llmplan.Decompose(context.Background(), config(s), goal, nil, registry())
	if !errors.Is(err, llmagent.ErrNoAnswer) || !strings.Contains(err.Error(), "owner") {
		t.Fatalf("err = %v, want one naming the unknown field", err)
	}
}
