package llmagent_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/llmagent"
)

// Each response of the fake takes 100 input and 10 output tokens; at
// claude-sonnet-4-5's list price that is $0.00045 a call.
const callUSD = (100*3 + 10*15) / 1e6

// meteredJob creates job-1 in a ledger with the budget and returns the
// ledger; the request of task "architecture" is metered by it.
func meteredJob(t *testing.T, req *specialists.Request, budgetUSD float64) *planner.Ledger {
	t.Helper()
	r := testenv.StartRedis(t)
	l := planner.NewLedger(r.Client(t), r.Prefix)
	p := &planner.Plan{Name: "job-1", BudgetUSD: budgetUSD, Phases: []planner.Phase{{Name: "design", Subtasks: []planner.Subtask{
		{ID: req.Task, Role: req.Role, Skill: req.Skill},
	}}}}
	tasks, deps := planner.Tasks(req.Job, p)
	if err := l.Create(context.Background(), req.Job, p, tasks, deps, nil); err != nil {
		t.Fatal(err)
	}
	req.Meter = l.Meter(req.Job, req.Task)
	return l
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestATaskOverItsBudgetFailsPermanently(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	f := newFake(t, worker()...)
	cfg := config(f)
	cfg.Model = "claude-sonnet-4-5"
	cfg.BudgetUSD = 1.5 * callUSD // the second call goes over
	_, err := llmagent.Skill(cfg)(context.Background(), request(t))
	if !errors.Is(err, specialists.ErrBudget) || !specialists.IsPermanent(err) {
		t.Fatalf("err = %v, want a permanent ErrBudget", err)
	}
	if n := len(f.received()); n != 2 {
		t.Errorf("%d requests, want 2: the run stops at the call that went over", n)
	}
}

// The job's budget is shared by its tasks through the ledger: once it is
// spent, no further call is made, and status shows what each call cost.
func TestAJobOverItsBudgetMakesNoFurtherCalls(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	f := newFake(t, worker()...)
	cfg := config(f)
	cfg.Model = "claude-sonnet-4-5-20250929" // a dated name takes its family's price
	req := request(t)
	l := meteredJob(t, req, 2.5*callUSD)
	_, err := llmagent.Skill(cfg)(context.Background(), req)
	if !errors.Is(err, specialists.ErrBudget) || !specialists.IsPermanent(err) {
		t.Fatalf("err = %v, want a permanent ErrBudget", err)
	}
	if n := len(f.received()); n != 3 {
		t.Errorf("%d requests, want 3: calls are allowed until the spend reaches the budget", n)
	}
	js, err := l.Job(context.Background(), req.Job)
	if err != nil {
		t.Fatal(err)
	}
	want := specialists.Usage{Calls: 3, InputTokens: 300, OutputTokens: 30, CostUSD: 3 * callUSD}
	for name, u := range map[string]*specialists.Usage{"job": js.Usage, "task": js.Tasks[0].Usage} {
		if u == nil || u.Calls != want.Calls || u.InputTokens != want.InputTokens || u.OutputTokens != want.OutputTokens || !near(u.CostUSD, want.CostUSD) {
			t.Errorf("%s usage %+v, want %+v", name, u, want)
		}
	}
	if !near(js.BudgetUSD, 2.5*callUSD) {
		t.Errorf("budget %v", js.BudgetUSD)
	}
}

// Calls answered from the cache are counted apart and cost nothing.
func TestCachedCallsCostNothing(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	f := newFake(t, worker()...)
	cfg := config(f)
	cfg.Model = "claude-haiku-4-5"
	cfg.Cache = &mapCache{m: map[string][]byte{}}
	req := request(t)
	l := meteredJob(t, req, 0)
	for range 2 {
		if _, err := llmagent.Skill(cfg)(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	js, err := l.Job(context.Background(), req.Job)
	if err != nil {
		t.Fatal(err)
	}
	u := js.Tasks[0].Usage
	if u == nil || u.Calls != 5 || u.CachedCalls != 5 || !near(u.CostUSD, 5*(100*1+10*5)/1e6) {
		t.Errorf("usage %+v, want 5 paid calls at haiku's price and 5 cached", u)
	}
}

func TestPricesOfRolesYAMLWinOverTheDefaults(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	f := newFake(t, worker()...)
	cfg := config(f)
	cfg.Model = "llama3.1"
	cfg.Prices = map[string]llmagent.Price{"llama3.1": {InputPerMTok: 1000, OutputPerMTok: 0}}
	req := request(t)
	l := meteredJob(t, req, 0)
	if _, err := llmagent.Skill(cfg)(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	js, err := l.Job(context.Background(), req.Job)
	if err != nil {
		t.Fatal(err)
	}
	if js.Usage == nil || !near(js.Usage.CostUSD, 5*100*1000/1e6) {
		t.Errorf("usage %+v, want 5 calls of 100 tokens at $1000 per million", js.Usage)
	}
}

// Without a system_prompt a role gets its own prompt from the repository,
// and calls are made at temperature 0.
func TestEachRoleHasItsDefaultPromptAndTemperatureZero(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	f := newFake(t, worker()...)
	if _, err := llmagent.Skill(config(f))(context.Background(), request(t)); err != nil {
		t.Fatal(err)
	}
	req := f.received()[0]
	system, _ := json.Marshal(req["system"])
	if !strings.Contains(string(system), "You are the ml-systems-architect of the team") {
		t.Errorf("system prompt %s", system)
	}
	if temp, ok := req["temperature"].(float64); !ok || temp != 0 {
		t.Errorf("temperature %v, want 0", req["temperature"])
	}
}

// A key may come from a file, such as a mounted secret, instead of the
// environment; a missing file names its path, never a key.
func TestTheKeyMayComeFromAFile(t *testing.T) {
	t.Setenv(keyEnv, "")
	f := newFake(t, worker()...)
	cfg := config(f)
	cfg.APIKeyFile = t.TempDir() + "/key"
	if err := os.WriteFile(cfg.APIKeyFile, []byte("secret-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := llmagent.Skill(cfg)(context.Background(), request(t)); err != nil {
		t.Fatal(err)
	}
	cfg.APIKeyFile += ".missing"
	_, err := llmagent.Skill(cfg)(context.Background(), request(t))
	if !specialists.IsPermanent(err) || !strings.Contains(err.Error(), "key.missing") {
		t.Errorf("err = %v, want a permanent error naming the file", err)
	}
}
