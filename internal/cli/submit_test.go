package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/workers"
)

// cluster is a pair of shared servers with a worker pool for some roles,
// and the flags that point a command at them.
type cluster struct {
	st    *stack.Stack
	flags []string
}

func startCluster(t *testing.T, roles ...string) *cluster {
	t.Helper()
	isolate(t)
	ctx := context.Background()
	n := testenv.StartNATS(t)
	r := testenv.StartRedis(t)
	st, err := stack.Open(ctx, stack.Options{NATSURL: n.URL(), RedisURL: r.URL, Prefix: r.Prefix, Log: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Broker.EnsureTopology(ctx, st.Skills.Roles()); err != nil {
		t.Fatal(err)
	}
	if len(roles) > 0 {
		pool, err := workers.NewPool(st.PoolDeps(zap.NewNop()), workers.Config{Roles: roles, MaxAgents: 2, Name: "t"})
		if err != nil {
			t.Fatal(err)
		}
		if err := pool.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pool.Shutdown(context.Background()) })
	}
	return &cluster{st: st, flags: []string{"--nats", n.URL(), "--redis", r.URL, "--prefix", r.Prefix}}
}

func (c *cluster) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return execute(t, append(args, c.flags...)...)
}

func diagPlan(name string) *planner.Plan {
	return &planner.Plan{Name: name, Goal: "check the pools", Phases: []planner.Phase{{Name: "all", Subtasks: []planner.Subtask{
		{ID: "a", Title: "first", Role: specialists.RoleDiag, Skill: "noop"},
		{ID: "b", Title: "second", Role: specialists.RoleDiag, Skill: "noop", DependsOn: []string{"a"}},
	}}}}
}

func TestSubmitRoutesATaskByItsWords(t *testing.T) {
	c := startCluster(t)
	code, stdout, stderr := c.run(t, "submit", "Implement logistic regression baseline for comparison", "--priority", "high")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "routed to data-science-analyst (skill train-models; the text mentions logistic regression, baseline)\n"; stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
	job := strings.TrimSpace(stdout)
	plan, err := c.st.Ledger.Plan(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	sub := plan.Subtasks()
	if len(sub) != 1 || sub[0].Role != specialists.RoleDataScience || sub[0].Skill != "train-models" || sub[0].Priority != broker.High {
		t.Errorf("job %s: subtasks %+v", job, sub)
	}
}

func TestSubmitToAnAgentWaitsForTheOutcome(t *testing.T) {
	c := startCluster(t, specialists.RoleMLArchitect)
	code, stdout, stderr := c.run(t, "submit", "Create recommendation system with collaborative filtering, content-based, and neural collaborative filtering",
		"--agent", "ml-systems-architect", "--priority", "high", "--wait", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r JobReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	if r.State != planner.JobSucceeded || len(r.Tasks) != 1 || r.Tasks[0].Role != specialists.RoleMLArchitect || r.Tasks[0].Skill != "scaffold" {
		t.Errorf("report %+v", r)
	}
	if strings.Contains(stderr, "routed to") {
		t.Errorf("--agent chose the role; stderr still says %q", stderr)
	}
}

func TestExecutePlanSubmitsASavedPlanAsOftenAsAsked(t *testing.T) {
	c := startCluster(t, specialists.RoleDiag)
	if err := planner.NewPlans(c.st.Redis, c.st.Prefix).Save(context.Background(), diagPlan("pools")); err != nil {
		t.Fatal(err)
	}
	jobs := map[string]bool{}
	for range 2 {
		code, stdout, stderr := c.run(t, "execute-plan", "pools", "--wait", "--output", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var r JobReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil || r.State != planner.JobSucceeded || len(r.Tasks) != 2 {
			t.Fatalf("report %+v (%v)", r, err)
		}
		jobs[r.Job] = true
	}
	if len(jobs) != 2 {
		t.Errorf("two executions made jobs %v, want two", jobs)
	}
	code, _, stderr := c.run(t, "execute-plan", "nope")
	if code != ExitUsage || !strings.Contains(stderr, `no such plan "nope"`) {
		t.Errorf("unknown plan: exit %d, stderr %q", code, stderr)
	}
}

func TestSubmitAPlanFile(t *testing.T) {
	c := startCluster(t, specialists.RoleDiag)
	data, err := planner.WriteYAML(diagPlan("from-file"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "plan.yaml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := c.run(t, "submit", "--plan", file, "--wait", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r JobReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || r.State != planner.JobSucceeded || !strings.HasPrefix(r.Job, "from-file-") {
		t.Fatalf("report %+v (%v)", r, err)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: p\nphases:\n  - name: a\n    subtasks:\n      - id: x\n        role: diag\n        skil: noop\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = c.run(t, "submit", "--plan", bad)
	if code != ExitUsage || !strings.Contains(stderr, "line 7: phases[0].subtasks[0].skil: unknown field") {
		t.Errorf("bad plan file: exit %d, stderr %q", code, stderr)
	}
	wizard := filepath.Join(t.TempDir(), "wizard.yaml")
	if err := os.WriteFile(wizard, []byte("name: p\nphases:\n  - name: a\n    subtasks:\n      - {id: x, role: wizard, skill: noop}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = c.run(t, "submit", "--plan", wizard)
	if code != ExitUsage || !strings.Contains(stderr, `subtask x: unknown role "wizard"`) {
		t.Errorf("unknown role: exit %d, stderr %q", code, stderr)
	}
}

func TestSubmitRefusesTextItCannotRoute(t *testing.T) {
	c := startCluster(t)
	code, stdout, stderr := c.run(t, "submit", "Bake a cake")
	if code != ExitUsage || stdout != "" || !strings.Contains(stderr, "--agent") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
