package planner_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/builtin"
)

const churnGoal = "Build production ML system for customer churn prediction with real-time inference"

// churnRegistry holds the builtin skills and a stand-in for the collector,
// whose assemble skill lives in another package.
func churnRegistry() *specialists.Registry {
	r := specialists.NewRegistry()
	builtin.Register(r)
	r.Register(specialists.RoleCollector, "assemble", func(context.Context, *specialists.Request) (*specialists.Result, error) {
		return &specialists.Result{}, nil
	})
	return r
}

func mustDecompose(t *testing.T, goal string, answers map[string]string) *planner.Plan {
	t.Helper()
	p, err := planner.Decompose(goal, answers)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func findSubtask(t *testing.T, p *planner.Plan, id string) planner.Subtask {
	t.Helper()
	for _, st := range p.Subtasks() {
		if st.ID == id {
			return st
		}
	}
	t.Fatalf("plan has no subtask %s", id)
	return planner.Subtask{}
}

func TestChurnPlanValidatesAgainstTheBuiltinSkills(t *testing.T) {
	p := mustDecompose(t, churnGoal, nil)
	if err := p.Validate(churnRegistry()); err != nil {
		t.Fatal(err)
	}
	if p.Name != "ml-churn-system" || p.Goal != churnGoal || !maps.Equal(p.Answers, planner.DefaultAnswers()) {
		t.Fatalf("name %q, goal %q, answers %v", p.Name, p.Goal, p.Answers)
	}
}

func TestChurnPlanFollowsTheUsersPhases(t *testing.T) {
	p := mustDecompose(t, churnGoal, nil)
	var got []string
	for _, ph := range p.Phases {
		var ids []string
		for _, st := range ph.Subtasks {
			ids = append(ids, st.ID)
		}
		got = append(got, ph.Name+" ("+ph.Days+"): "+strings.Join(ids, " "))
	}
	want := []string{
		"Data Foundation (1-2): scaffold features feature-store",
		"Model Development (3-4): train-models model-evaluation",
		"Production Infrastructure (5-6): ab-testing serving deployment load-test",
		"Monitoring & Operations (7): drift-monitoring dashboards retraining collect",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("phases:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	st := findSubtask(t, p, "train-models")
	for _, want := range []string{"Baseline model (logistic regression)", "gradient-boosted trees", "neural network", "hyperparameter optimization"} {
		if !strings.Contains(st.Title, want) || st.Role != specialists.RoleDataScience {
			t.Errorf("train-models (%s): title %q does not say %q", st.Role, st.Title, want)
		}
	}
	if st := findSubtask(t, p, "deployment"); !strings.Contains(st.Title, "SageMaker") || st.Role != specialists.RoleCloudArchitect {
		t.Errorf("deployment on AWS: %+v", st)
	}
	k8s := mustDecompose(t, churnGoal, map[string]string{"infra": "Kubernetes"})
	if st := findSubtask(t, k8s, "deployment"); !strings.Contains(st.Title, "Kubernetes") || st.Params["infra"] != "kubernetes" {
		t.Errorf("deployment on Kubernetes: %+v", st)
	}
}

func TestChurnPlanDependencies(t *testing.T) {
	p := mustDecompose(t, churnGoal, nil)
	want := map[string][]string{
		"scaffold":         nil,
		"features":         {"scaffold"},
		"feature-store":    {"features"},
		"train-models":     {"features"},
		"model-evaluation": {"train-models"},
		"ab-testing":       {"scaffold"},
		"serving":          {"train-models", "feature-store", "ab-testing"},
		"deployment":       {"serving"},
		"load-test":        {"serving"},
		"drift-monitoring": {"features", "train-models"},
		"dashboards":       {"serving", "drift-monitoring"},
		"retraining":       {"model-evaluation"},
	}
	for _, st := range p.Subtasks() {
		if st.Priority != broker.Normal {
			t.Errorf("%s: priority %q, want normal", st.ID, st.Priority)
		}
		if st.ID == "collect" {
			continue
		}
		if st.Skill != st.ID {
			t.Errorf("%s: skill %s, want the subtask's id", st.ID, st.Skill)
		}
		if !slices.Equal(st.DependsOn, want[st.ID]) {
			t.Errorf("%s depends on %v, want %v", st.ID, st.DependsOn, want[st.ID])
		}
	}
	collect := findSubtask(t, p, "collect")
	if collect.Role != specialists.RoleCollector || collect.Skill != "assemble" {
		t.Fatalf("collect: role %s skill %s", collect.Role, collect.Skill)
	}
	others := slices.Sorted(maps.Keys(want))
	if got := slices.Sorted(slices.Values(collect.DependsOn)); !slices.Equal(got, others) {
		t.Fatalf("collect depends on %v, want every other subtask %v", got, others)
	}
}

func TestGoalsMatchChurnWhateverTheCase(t *testing.T) {
	for _, goal := range []string{"predict CUSTOMER CHURN for a telco", "  churn model  ", "Reduce Churn"} {
		if p := mustDecompose(t, goal, nil); p.Name != "ml-churn-system" || p.Goal != strings.TrimSpace(goal) {
			t.Errorf("goal %q: plan %q with goal %q", goal, p.Name, p.Goal)
		}
	}
}

func TestAnswersChangeTheParams(t *testing.T) {
	answers := map[string]string{"volume": "50K", "latency": "<250 ms", "retraining": "Daily", "infra": "AWS"}
	p := mustDecompose(t, churnGoal, answers)
	scaffold := findSubtask(t, p, "scaffold").Params
	if scaffold["latency_ms"] != "250" || scaffold["volume"] != "50K" || scaffold["retraining"] != "daily" || scaffold["infra"] != "aws" {
		t.Errorf("scaffold params %v", scaffold)
	}
	if got := findSubtask(t, p, "load-test").Params["latency_ms"]; got != "250" {
		t.Errorf("load-test latency_ms %q, want 250", got)
	}
	if got := findSubtask(t, p, "deployment").Params; got["volume"] != "50K" || got["retraining"] != "daily" {
		t.Errorf("deployment params %v", got)
	}
	for _, st := range p.Subtasks() {
		if st.ID != "collect" && st.Params["latency_ms"] != "250" {
			t.Errorf("%s: latency_ms %q: every skill must see the plan's budget", st.ID, st.Params["latency_ms"])
		}
	}
	if answers["latency"] != "<250 ms" {
		t.Errorf("Decompose changed the caller's answers: %v", answers)
	}
	if p.Answers["volume"] != "50K" || p.Answers["latency"] != "<250 ms" {
		t.Errorf("plan answers %v, want the given ones", p.Answers)
	}
	partial := mustDecompose(t, churnGoal, map[string]string{"retraining": "monthly"})
	if partial.Answers["volume"] != "1M" || partial.Answers["retraining"] != "monthly" {
		t.Errorf("missing answers were not defaulted: %v", partial.Answers)
	}
}

func TestLatencyAnswersInTheFormsUsersWrite(t *testing.T) {
	for in, ms := range map[string]string{"100ms": "100", "<100ms": "100", "0.5s": "500", "100": "100", "1.2ms": "2", "1m": "60000"} {
		p := mustDecompose(t, churnGoal, map[string]string{"latency": in})
		if got := findSubtask(t, p, "scaffold").Params["latency_ms"]; got != ms {
			t.Errorf("latency %q: latency_ms %q, want %s", in, got, ms)
		}
	}
}

// Each subtask's params must be ones its skill accepts, for the default
// answers and for others: the planner and the skills parse answers apart.
func TestEverySkillAcceptsItsPlannedParams(t *testing.T) {
	reg := churnRegistry()
	for _, answers := range []map[string]string{nil, {"volume": "2.5M", "latency": "0.25s", "retraining": "monthly", "infra": "kubernetes"}} {
		// A small synthetic data set keeps the training subtask quick.
		p, err := planner.DecomposeData(churnGoal, answers, planner.Dataset{Rows: 300})
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range p.Subtasks() {
			if st.Role == specialists.RoleCollector {
				continue
			}
			skill, err := reg.Lookup(st.Role, st.Skill)
			if err != nil {
				t.Fatal(err)
			}
			req := &specialists.Request{Job: "j", Task: st.ID, Role: st.Role, Skill: st.Skill, Params: st.Params, Attempt: 1, ScratchRoot: t.TempDir()}
			if _, err := skill(t.Context(), req); err != nil {
				t.Errorf("answers %v: subtask %s: %v", answers, st.ID, err)
			}
		}
	}
}

func TestBadAnswersAreNamed(t *testing.T) {
	for _, tc := range []struct{ key, value string }{
		{"volume", "lots"}, {"volume", "0"}, {"volume", "0.1"},
		{"latency", "fast"}, {"latency", "0ms"}, {"latency", "2h"},
		{"retraining", "hourly"}, {"infra", "gcp"},
		{"budget", "1M$"},
	} {
		_, err := planner.Decompose(churnGoal, map[string]string{tc.key: tc.value})
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("answer %s=%q: err = %v, want one naming %s", tc.key, tc.value, err, tc.key)
		}
	}
}

func TestUnknownGoalsListTheKnownScenarios(t *testing.T) {
	_, err := planner.Decompose("Build a compiler for COBOL", nil)
	if !errors.Is(err, planner.ErrNoScenario) {
		t.Fatalf("err = %v, want ErrNoScenario", err)
	}
	for _, want := range []string{"Build a compiler for COBOL", "churn"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := planner.Decompose("  ", nil); !errors.Is(err, planner.ErrEmptyGoal) {
		t.Fatalf("blank goal: err = %v, want ErrEmptyGoal", err)
	}
}

func TestDataReachesOnlyTheSkillsThatReadIt(t *testing.T) {
	digest := strings.Repeat("ab", 32)
	p, err := planner.DecomposeData(churnGoal, nil, planner.Dataset{Train: digest, TrainName: "bank.csv", Test: strings.Repeat("cd", 32), TestName: "holdout.csv", Target: "Churned", Positive: "yes"})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range p.Subtasks() {
		reads := st.ID == "features" || st.ID == "train-models"
		if got := st.Params["data"] == digest; got != reads {
			t.Errorf("%s: data param %q", st.ID, st.Params["data"])
		}
		if reads && (st.Params["data_name"] != "bank.csv" || st.Params["test_name"] != "holdout.csv" || st.Params["positive"] != "yes") {
			t.Errorf("%s: params %v", st.ID, st.Params)
		}
		if st.ID != "collect" && st.Params["target"] != "Churned" {
			t.Errorf("%s: target %q, want the data's", st.ID, st.Params["target"])
		}
	}
	if got := findSubtask(t, p, "train-models").Timeout; got < 30*time.Minute {
		t.Errorf("train-models timeout %v: training a million customers takes minutes", got)
	}
}

func TestBadDataIsRefused(t *testing.T) {
	for _, d := range []planner.Dataset{
		{Train: "not-a-digest"},
		{Test: strings.Repeat("ab", 32)},
		{Train: strings.Repeat("ab", 32), Rows: 1000},
		{Rows: 50},
		{Rows: planner.MaxSyntheticRows + 1},
		{Target: "Churned"},
	} {
		if _, err := planner.DecomposeData(churnGoal, nil, d); err == nil {
			t.Errorf("%+v was accepted", d)
		}
	}
}
