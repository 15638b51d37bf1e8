package planner_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

func registry() *specialists.Registry {
	r := specialists.NewRegistry()
	r.Register("diag", "noop", nil)
	r.Register("diag", "sleep", nil)
	return r
}

func plan(subs ...planner.Subtask) *planner.Plan {
	return &planner.Plan{Name: "p", Goal: "g", Phases: []planner.Phase{{Name: "one", Subtasks: subs}}}
}

func st(id string, deps ...string) planner.Subtask {
	return planner.Subtask{ID: id, Title: id, Role: "diag", Skill: "noop", DependsOn: deps}
}

func TestValidateNamesTheOffendingSubtask(t *testing.T) {
	cases := []struct {
		name string
		plan *planner.Plan
		want []string
	}{
		{"an unknown role is refused with the known roles", plan(planner.Subtask{ID: "a", Role: "wizard", Skill: "noop"}), []string{"subtask a", `unknown role "wizard"`, "known: diag"}},
		{"an unknown skill is refused with the role's skills", plan(planner.Subtask{ID: "a", Role: "diag", Skill: "fly"}), []string{"subtask a", `no skill "fly"`, "noop, sleep"}},
		{"a duplicate id is refused", plan(st("a"), st("a")), []string{"subtask a: duplicate id"}},
		{"a dangling dependency is refused", plan(st("a", "ghost")), []string{"subtask a", `unknown subtask "ghost"`}},
		{"a self dependency is refused", plan(st("a", "a")), []string{"subtask a: depends on itself"}},
		{"a cycle is refused with its path", plan(st("a", "c"), st("b", "a"), st("c", "b")), []string{"dependency cycle: a -> c -> b -> a"}},
		{"an id that cannot be a subject token is refused", plan(st("a.b")), []string{`subtask "a.b": id must be`}},
		{"a bad priority is refused", plan(planner.Subtask{ID: "a", Role: "diag", Skill: "noop", Priority: "urgent"}), []string{"subtask a", `unknown priority "urgent"`}},
		{"an empty plan is refused", &planner.Plan{Name: "p"}, []string{"no subtasks"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.plan.Validate(registry())
			if err == nil {
				t.Fatal("Validate accepted the plan")
			}
			if !errors.Is(err, planner.ErrInvalidPlan) {
				t.Errorf("error %v does not wrap ErrInvalidPlan", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateAcceptsADiamond(t *testing.T) {
	p := plan(st("a"), st("b", "a"), st("c", "a"), st("d", "b", "c"))
	if err := p.Validate(registry()); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

func TestTasksCarryDependenciesAsInputs(t *testing.T) {
	p := plan(st("a"), st("b", "a"))
	tasks, deps := planner.Tasks("job1", p)
	if len(tasks) != 2 || tasks[1].ID != "b" || len(tasks[1].Inputs) != 1 || tasks[1].Inputs[0] != "a" {
		t.Fatalf("tasks = %+v", tasks)
	}
	if tasks[0].Priority != "normal" {
		t.Errorf("default priority = %q, want normal", tasks[0].Priority)
	}
	if len(deps["b"]) != 1 || len(deps["a"]) != 0 {
		t.Errorf("deps = %v", deps)
	}
	if tasks[0].MsgID() != "job1.a.0" {
		t.Errorf("MsgID = %q", tasks[0].MsgID())
	}
}

func TestNewJobIDIsASafeUniqueToken(t *testing.T) {
	a, b := planner.NewJobID("ML Churn: System!"), planner.NewJobID("ML Churn: System!")
	if a == b {
		t.Fatalf("two ids are equal: %s", a)
	}
	if !strings.HasPrefix(a, "ml-churn-system-") {
		t.Errorf("id %q does not start with the slug", a)
	}
	for _, c := range a {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			t.Fatalf("id %q has character %q", a, c)
		}
	}
}
