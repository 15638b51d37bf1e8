package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orchestrate-dev/orchestrate/internal/fakemodel"
	"github.com/orchestrate-dev/orchestrate/planner"
)

// planAnswer is a reply of the planner model: submit_plan with the plan.
func planAnswer(t *testing.T, plan any) fakemodel.Reply {
	t.Helper()
	data, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	return fakemodel.Reply{Uses: []fakemodel.Use{{ID: "p", Name: "submit_plan", Input: map[string]string{"plan": string(data)}}}}
}

// rolesWithPlanner writes a roles.yaml whose planner and architect are
// the fake model.
func rolesWithPlanner(t *testing.T, url string) string {
	t.Helper()
	t.Setenv("FAKE_ANTHROPIC_KEY", "test-key")
	path := filepath.Join(t.TempDir(), "roles.yaml")
	data := fmt.Sprintf("planner:\n  provider: anthropic\n  model: claude-sonnet-4-5\n  base_url: %s\n  api_key_env: FAKE_ANTHROPIC_KEY\n"+
		"roles:\n  ml-systems-architect:\n    executor: llm\n    provider: anthropic\n    model: claude-sonnet-4-5\n    base_url: %s\n    api_key_env: FAKE_ANTHROPIC_KEY\n", url, url)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A goal outside the catalog is planned by the model of roles.yaml; the
// plan, with a free-form subtask for the llm role, is exported as a plan
// file.
func TestPlanWithTheLLMPlanner(t *testing.T) {
	isolate(t)
	goal := "Create an intelligent document processing system using transformer models for contract analysis"
	model := fakemodel.Start(t, "test-key", planAnswer(t, map[string]any{
		"name": "contract-analysis",
		"phases": []any{map[string]any{"name": "Design", "days": "1", "subtasks": []any{
			map[string]any{"id": "design", "title": "Transformer architecture for clause extraction", "role": "ml-systems-architect",
				"skill": "free-form", "instructions": "Write docs/design.md and orchestrate.yaml."},
			map[string]any{"id": "serving", "title": "Serve clause extraction", "role": "backend-systems-engineer", "skill": "serving", "depends_on": []string{"design"}},
		}}},
	}))
	roles := rolesWithPlanner(t, model.URL)
	file := filepath.Join(t.TempDir(), "plan.yaml")
	code, _, stderr := execute(t, "plan", goal, "--yes", "--export", file, "--roles-config", roles)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "planned by claude-sonnet-4-5 (1 calls") {
		t.Errorf("stderr %q does not say who planned", stderr)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.ReadYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, st := range p.Subtasks() {
		ids = append(ids, st.ID+"/"+st.Skill)
	}
	if got := strings.Join(ids, " "); p.Goal != goal || got != "design/free-form serving/serving collect/assemble" {
		t.Errorf("plan of %q: %s", p.Goal, got)
	}
	// --planner builtin still refuses a goal the catalog does not know.
	if code, _, stderr := execute(t, "plan", goal, "--yes", "--export", file, "--roles-config", roles, "--planner", "builtin"); code == 0 || !strings.Contains(stderr, "no builtin scenario") {
		t.Errorf("builtin planner: exit %d, %s", code, stderr)
	}
	// --planner llm without a planner section names what is missing.
	if code, _, stderr := execute(t, "plan", goal, "--yes", "--export", file, "--planner", "llm"); code != ExitUsage || !strings.Contains(stderr, "planner section") {
		t.Errorf("no planner configured: exit %d, %s", code, stderr)
	}
}

// When the model's plan stays invalid after the repair, a notice says so
// and the builtin catalog plans the goal.
func TestTheLLMPlannerFallsBackToTheCatalog(t *testing.T) {
	isolate(t)
	bad := map[string]any{"name": "x", "phases": []any{map[string]any{"name": "A", "subtasks": []any{
		map[string]any{"id": "a", "title": "A", "role": "wizard", "skill": "magic"},
	}}}}
	model := fakemodel.Start(t, "test-key", planAnswer(t, bad), planAnswer(t, bad))
	roles := rolesWithPlanner(t, model.URL)
	file := filepath.Join(t.TempDir(), "plan.yaml")
	code, _, stderr := execute(t, "plan", churnGoal, "--yes", "--export", file, "--roles-config", roles)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "the llm planner failed") || !strings.Contains(stderr, "falling back to the builtin catalog") || !strings.Contains(stderr, "wizard") {
		t.Errorf("stderr %q: want a notice with the reason", stderr)
	}
	if n := len(model.Requests()); n != 2 {
		t.Errorf("%d requests to the planner model, want 2 (a plan and a repair)", n)
	}
	data, _ := os.ReadFile(file)
	if p, err := planner.ReadYAML(data); err != nil || p.Name != "ml-churn-system" {
		t.Errorf("exported plan: %v", err)
	}
}

// submit --decompose --planner llm submits the model's plan; a second
// submission of the same goal is planned from the response cache.
func TestSubmitDecomposesWithTheLLMPlanner(t *testing.T) {
	c := startCluster(t)
	goal := "Create a hybrid recommender of collaborative filtering and content-based ranking"
	plan := map[string]any{"name": "hybrid-recommender", "phases": []any{map[string]any{"name": "All", "subtasks": []any{
		map[string]any{"id": "design", "title": "Hybrid ranking design", "role": "ml-systems-architect", "skill": "free-form", "instructions": "Write docs/design.md."},
	}}}}
	model := fakemodel.Start(t, "test-key", planAnswer(t, plan))
	roles := rolesWithPlanner(t, model.URL)
	for range 2 {
		code, stdout, stderr := c.run(t, "submit", goal, "--decompose", "--planner", "llm", "--roles-config", roles)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		p, err := c.st.Ledger.Plan(t.Context(), strings.TrimSpace(stdout))
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Subtasks()) != 2 || p.Subtasks()[0].Skill != "free-form" {
			t.Errorf("submitted plan %+v", p.Subtasks())
		}
	}
	if n := len(model.Requests()); n != 1 {
		t.Errorf("the model got %d requests, want 1: the second plan comes from the cache", n)
	}
}
