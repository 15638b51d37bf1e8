package planner_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

func actions(p *planner.Plan) []string {
	var out []string
	for _, c := range p.History {
		out = append(out, c.Action+" "+c.Subtask)
	}
	return out
}

func TestAddModifyRemoveKeepAValidPlanAndItsHistory(t *testing.T) {
	reg := churnRegistry()
	p := mustDecompose(t, churnGoal, nil)
	st, err := p.Add("Monitoring & Operations", planner.Subtask{
		Title: "Drift alerts for the retention team", Role: specialists.RoleMLArchitect, DependsOn: []string{"serving"},
	}, reg)
	if err != nil {
		t.Fatal(err)
	}
	if st.ID != "drift-alerts-for-the-retention-team" || st.Skill != "drift-monitoring" || st.Priority != broker.Normal {
		t.Errorf("added %+v: want an id from the title, the skill Route picks and normal priority", st)
	}
	if col := findSubtask(t, p, "collect"); !slices.Contains(col.DependsOn, st.ID) {
		t.Errorf("the collector does not depend on the added subtask: %v", col.DependsOn)
	}
	phase := p.Phases[len(p.Phases)-1].Subtasks
	if phase[len(phase)-1].ID != "collect" {
		t.Errorf("the collector is no longer last in its phase")
	}

	high := broker.High
	deps := []string{"serving", "load-test"}
	if err := p.Modify(st.ID, planner.SubtaskEdit{Priority: &high, DependsOn: &deps}, reg); err != nil {
		t.Fatal(err)
	}
	if got := findSubtask(t, p, st.ID); got.Priority != broker.High || !slices.Equal(got.DependsOn, deps) {
		t.Errorf("modified %+v", got)
	}
	if err := p.Remove("load-test", reg); err == nil || !strings.Contains(err.Error(), st.ID) {
		t.Errorf("removing a subtask another needs: err = %v, want one naming %s", err, st.ID)
	}
	if err := p.Remove(st.ID, reg); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Subtask(st.ID); ok {
		t.Error("the removed subtask is still there")
	}
	if col := findSubtask(t, p, "collect"); slices.Contains(col.DependsOn, st.ID) {
		t.Error("the collector still depends on the removed subtask")
	}
	want := []string{"created ", "added " + st.ID, "modified " + st.ID, "removed " + st.ID}
	if got := actions(p); !slices.Equal(got, want) {
		t.Errorf("history %v, want %v", got, want)
	}
	if d := p.History[2].Detail; !strings.Contains(d, "priority normal -> high") || !strings.Contains(d, "depends on [serving] -> [serving load-test]") {
		t.Errorf("the modification's detail %q does not say what changed", d)
	}
	if err := p.Validate(reg); err != nil {
		t.Errorf("the edited plan does not validate: %v", err)
	}
}

func TestRefusedChangesLeaveThePlanAsItWas(t *testing.T) {
	reg := churnRegistry()
	p := mustDecompose(t, churnGoal, nil)
	before, _ := planner.WriteYAML(p)
	wizard, cyc := "wizard", []string{"load-test"}
	for _, tc := range []struct {
		name, want string
		change     func() error
	}{
		{"an unknown role", `unknown role "wizard"`, func() error {
			return p.Modify("serving", planner.SubtaskEdit{Role: &wizard}, reg)
		}},
		{"a cycle", "dependency cycle", func() error {
			return p.Modify("serving", planner.SubtaskEdit{DependsOn: &cyc}, reg)
		}},
		{"an unknown dependency", `unknown subtask "nope"`, func() error {
			_, err := p.Add("Model Development", planner.Subtask{Title: "Calibrate the model", Role: specialists.RoleDataScience, DependsOn: []string{"nope"}}, reg)
			return err
		}},
		{"a missing title", "title", func() error {
			_, err := p.Add("Model Development", planner.Subtask{Role: specialists.RoleDataScience}, reg)
			return err
		}},
		{"an unknown subtask", `no subtask "nope"`, func() error {
			return p.Modify("nope", planner.SubtaskEdit{Title: &wizard}, reg)
		}},
		{"removing the collector", "cannot be removed", func() error { return p.Remove("collect", reg) }},
		{"a bad priority", "priority", func() error {
			bad := broker.Priority("urgent")
			return p.Modify("serving", planner.SubtaskEdit{Priority: &bad}, reg)
		}},
	} {
		err := tc.change()
		if !errors.Is(err, planner.ErrInvalidPlan) && !errors.Is(err, planner.ErrNoRoute) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want an invalid plan saying %q", tc.name, err, tc.want)
		}
	}
	after, _ := planner.WriteYAML(p)
	if string(before) != string(after) {
		t.Errorf("refused changes changed the plan:\n%s", after)
	}
}

func TestRouteSendsTasksToTheSkillTheirWordsName(t *testing.T) {
	reg := churnRegistry()
	for _, tc := range []struct{ text, role, wantRole, wantSkill string }{
		{"Implement logistic regression baseline for comparison", "", specialists.RoleDataScience, "train-models"},
		{"Add a Grafana dashboard with latency alerts", "", specialists.RoleCloudArchitect, "dashboards"},
		{"Detect feature drift with PSI", "", specialists.RoleMLArchitect, "drift-monitoring"},
		{"Create recommendation system with collaborative filtering, content-based, and neural collaborative filtering", specialists.RoleMLArchitect, specialists.RoleMLArchitect, "scaffold"},
		{"Run a load test at 200 requests/s", "", specialists.RoleBackend, "load-test"},
		{"Implementing EfficientNet with transfer learning", specialists.RoleMLArchitect, specialists.RoleMLArchitect, "cnn-model"},
		{"Setting up image augmentation pipeline", specialists.RoleDataPipeline, specialists.RoleDataPipeline, "image-pipeline"},
		{"Configuring IoT Greengrass for edge deployment", specialists.RoleCloudArchitect, specialists.RoleCloudArchitect, "edge-deployment"},
		{"Experiment tracking with MLflow", "", specialists.RoleDataScience, "training-infra"},
	} {
		r, err := planner.Route(tc.text, tc.role, reg)
		if err != nil {
			t.Errorf("%q: %v", tc.text, err)
			continue
		}
		if r.Role != tc.wantRole || r.Skill != tc.wantSkill || len(r.Matched) == 0 {
			t.Errorf("%q: routed to %s/%s (matched %v), want %s/%s", tc.text, r.Role, r.Skill, r.Matched, tc.wantRole, tc.wantSkill)
		}
	}
	if _, err := planner.Route("Bake a cake", "", reg); !errors.Is(err, planner.ErrNoRoute) || !strings.Contains(err.Error(), "--agent") {
		t.Errorf("unmatched text: err = %v, want ErrNoRoute naming --agent", err)
	}
	if _, err := planner.Route("Bake a cake", specialists.RoleBackend, reg); !errors.Is(err, planner.ErrNoRoute) || !strings.Contains(err.Error(), "--skill") {
		t.Errorf("unmatched text for a role: err = %v, want ErrNoRoute naming --skill", err)
	}
	if _, err := planner.Route("Bake a cake", "wizard", reg); err == nil || !strings.Contains(err.Error(), `unknown role "wizard"`) {
		t.Errorf("unknown role: err = %v", err)
	}
}

func TestSinglePlansOneSubtask(t *testing.T) {
	reg := churnRegistry()
	r, err := planner.Route("Implement logistic regression baseline for comparison", "", reg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Single("Implement logistic regression baseline for comparison", r, "high")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(reg); err != nil {
		t.Fatal(err)
	}
	st := p.Subtasks()
	if len(st) != 1 || st[0].Priority != broker.High || st[0].Role != specialists.RoleDataScience || st[0].Instructions == "" {
		t.Errorf("subtasks %+v", st)
	}
	if p.Name != "implement-logistic-regression-baseline-for-compa" {
		t.Errorf("name %q", p.Name)
	}
	if _, err := planner.Single("x", r, "urgent"); err == nil {
		t.Error("priority urgent was accepted")
	}
}

func TestHostileGoalTextsAreRefused(t *testing.T) {
	for name, goal := range map[string]string{
		"1 MB":                "churn " + strings.Repeat("x", 1<<20),
		"a control character": "churn\x1b[31m prediction",
		"a NUL byte":          "churn\x00",
		"not UTF-8":           "churn \xff\xfe",
	} {
		if _, err := planner.Decompose(goal, nil); !errors.Is(err, planner.ErrInvalidPlan) {
			t.Errorf("%s: Decompose err = %v, want an invalid plan", name, err)
		}
		if _, err := planner.Single(goal, planner.Routing{Role: "r", Skill: "s"}, ""); !errors.Is(err, planner.ErrInvalidPlan) {
			t.Errorf("%s: Single err = %v, want an invalid plan", name, err)
		}
	}
	if _, err := planner.Decompose("Predict churn\tfor\nall customers", nil); err != nil {
		t.Errorf("tabs and newlines: %v", err)
	}
}
