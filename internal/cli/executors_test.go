package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/orchestrate-dev/orchestrate/internal/fakemodel"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/roleconfig"
	"github.com/orchestrate-dev/orchestrate/workers"
)

// serveWithRoles starts a pool of every role in this process, with the
// roles file applied, on the cluster's servers.
func serveWithRoles(t *testing.T, c *cluster, rolesFile string) {
	t.Helper()
	rc, err := roleconfig.Load(rolesFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := stack.Open(context.Background(), stack.Options{NATSURL: c.flags[1], RedisURL: c.flags[3], Prefix: c.flags[5], Roles: rc, Log: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	pool, err := workers.NewPool(st.PoolDeps(zap.NewNop()), workers.Config{Roles: st.Skills.Roles(), MaxAgents: 3, Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Shutdown(context.Background()) })
}

// builtinFiles runs the builtin skills of the plan's subtasks with their
// params and returns their files by skill: what a model or a script is
// scripted to write in their place.
func builtinFiles(t *testing.T, p *planner.Plan, skills ...string) map[string][]byte {
	t.Helper()
	reg := stack.Skills(nil, nil)
	out := map[string][]byte{}
	for _, st := range p.Subtasks() {
		for _, want := range skills {
			if st.Skill != want {
				continue
			}
			skill, err := reg.Lookup(st.Role, st.Skill)
			if err != nil {
				t.Fatal(err)
			}
			res, err := skill(context.Background(), &specialists.Request{Job: "j", Task: st.ID, Role: st.Role, Skill: st.Skill, Params: st.Params, ScratchRoot: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range res.Files {
				out[st.Skill+"/"+f.Path] = f.Data
			}
		}
	}
	return out
}

var briefSkill = regexp.MustCompile(`Skill: ([a-z0-9-]+)\.`)

// architect answers as a model that writes, in one reply, the files the
// builtin skill of the subtask would write, and finishes.
func architect(files map[string][]byte) func(req map[string]any) fakemodel.Reply {
	return func(req map[string]any) fakemodel.Reply {
		m := briefSkill.FindStringSubmatch(fakemodel.FirstText(req))
		if m == nil {
			return fakemodel.Reply{Text: "I do not know the subtask."}
		}
		var uses []fakemodel.Use
		for path, data := range files {
			if rest, ok := strings.CutPrefix(path, m[1]+"/"); ok {
				uses = append(uses, fakemodel.Use{ID: fmt.Sprintf("w%d", len(uses)), Name: "write_file", Input: map[string]string{"path": rest, "content": string(data)}})
			}
		}
		uses = append(uses, fakemodel.Use{ID: "done", Name: "finish", Input: map[string]string{"summary": "wrote the " + m[1] + " files"}})
		return fakemodel.Reply{Uses: uses}
	}
}

// A churn job in which the ml-systems-architect is a language model (a
// scripted fake of Anthropic's API) and the aws-cloud-architect a shell
// script, the rest builtin: the job succeeds, its tests pass, and status
// shows each model task's tokens and cost.
func TestAChurnJobWithAnLLMRoleAndAnExecRole(t *testing.T) {
	if testing.Short() {
		t.Skip("trains and tests a whole churn project")
	}
	c := startCluster(t)
	plan, err := planner.DecomposeData(churnGoal, nil, planner.Dataset{Rows: 1500})
	if err != nil {
		t.Fatal(err)
	}
	files := builtinFiles(t, plan, "scaffold", "drift-monitoring", "retraining", "deployment", "dashboards")
	model := fakemodel.StartFunc(t, "test-key", architect(files))
	t.Setenv("FAKE_ANTHROPIC_KEY", "test-key")

	dir := t.TempDir()
	fixtures := filepath.Join(dir, "fixtures")
	for path, data := range files {
		if skill, _, _ := strings.Cut(path, "/"); skill != "deployment" && skill != "dashboards" {
			continue
		}
		p := filepath.Join(fixtures, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	agent := filepath.Join(dir, "cloud-agent.sh")
	script := "#!/bin/sh\nset -eu\n# The cloud architect's agent: it copies the configs of its skill.\ncp -R \"$FIXTURES/$ORCHESTRATE_SKILL/.\" .\n"
	if err := os.WriteFile(agent, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	roles := filepath.Join(dir, "roles.yaml")
	if err := os.WriteFile(roles, fmt.Appendf(nil, `roles:
  ml-systems-architect:
    executor: llm
    provider: anthropic
    model: claude-sonnet-4-5
    base_url: %s
    api_key_env: FAKE_ANTHROPIC_KEY
    max_turns: 5
  aws-cloud-architect:
    executor: exec
    command: [%q]
    env: {FIXTURES: %q}
    timeout: 1m
`, model.URL, agent, fixtures), 0o644); err != nil {
		t.Fatal(err)
	}
	serveWithRoles(t, c, roles)

	code, stdout, stderr := c.run(t, "submit", churnGoal, "--decompose", "--rows", "1500", "--wait", "--output", "json", "--roles-config", roles)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	var done JobReport
	if err := json.Unmarshal([]byte(stdout), &done); err != nil || done.State != planner.JobSucceeded || done.Tests == nil || !done.Tests.Passed {
		t.Fatalf("report %s (%v)", stdout, err)
	}
	code, stdout, stderr = c.run(t, "status", done.Job, "--output", "json")
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, stderr)
	}
	t.Logf("status --output json:\n%s", stdout)
	var r JobReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	call := (100*3.0 + 10*15.0) / 1e6 // claude-sonnet-4-5: $3 and $15 per million tokens
	for _, task := range r.Tasks {
		llm := task.Role == specialists.RoleMLArchitect
		switch {
		case llm && (task.Usage == nil || task.Usage.Calls != 1 || task.Usage.InputTokens != 100 || task.Usage.OutputTokens != 10 || math.Abs(task.Usage.CostUSD-call) > 1e-9):
			t.Errorf("task %s: usage %+v, want one call of 100/10 tokens costing $%.5f", task.ID, task.Usage, call)
		case !llm && task.Usage != nil:
			t.Errorf("task %s of %s: usage %+v, want none", task.ID, task.Role, task.Usage)
		}
		if task.Role == specialists.RoleCloudArchitect && !strings.Contains(task.Summary, "files") {
			t.Errorf("task %s: summary %q", task.ID, task.Summary)
		}
	}
	if r.Usage == nil || r.Usage.Calls != 3 || math.Abs(r.Usage.CostUSD-3*call) > 1e-9 {
		t.Errorf("job usage %+v, want 3 calls", r.Usage)
	}
	if n := len(model.Requests()); n != 3 {
		t.Errorf("the model got %d requests, want one per architect subtask", n)
	}
}

// A model task that failed after a successful call is replayed: the call
// that had succeeded is answered from the response cache, and only the
// one that failed reaches the model again.
func TestReplayingAFailedLLMTaskCostsOnlyTheFailedCall(t *testing.T) {
	c := startCluster(t)
	calls := 0
	model := fakemodel.StartFunc(t, "test-key", func(req map[string]any) fakemodel.Reply {
		calls++
		if fakemodel.Turns(req) == 0 {
			return fakemodel.Reply{Uses: []fakemodel.Use{{ID: "w", Name: "write_file", Input: map[string]string{"path": "docs/decisions.md", "content": "# Decisions\n"}}}}
		}
		// The second call fails for good: a 400 is not retried.
		return fakemodel.Reply{Status: 400}
	})
	t.Setenv("FAKE_ANTHROPIC_KEY", "test-key")
	roles := filepath.Join(t.TempDir(), "roles.yaml")
	if err := os.WriteFile(roles, fmt.Appendf(nil, "roles:\n  ml-systems-architect:\n    executor: llm\n    provider: anthropic\n    model: claude-haiku-4-5\n    base_url: %s\n    api_key_env: FAKE_ANTHROPIC_KEY\n", model.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	serveWithRoles(t, c, roles)

	code, stdout, stderr := c.run(t, "submit", "Record the architecture decisions", "--agent", specialists.RoleMLArchitect, "--skill", "scaffold", "--wait", "--output", "json")
	if code != ExitJobFailed {
		t.Fatalf("exit %d, want the job to fail: %s\n%s", code, stderr, stdout)
	}
	var failed JobReport
	if err := json.Unmarshal([]byte(stdout), &failed); err != nil {
		t.Fatal(err)
	}
	if n := len(model.Requests()); n != 2 {
		t.Fatalf("the first run made %d requests, want 2", n)
	}
	model.SetFunc(func(req map[string]any) fakemodel.Reply {
		return fakemodel.Reply{Uses: []fakemodel.Use{{ID: "f", Name: "finish", Input: map[string]string{"summary": "decided"}}}}
	})
	code, stdout, stderr = c.run(t, "replay", failed.Job+"/scaffold", "--wait", "--output", "json")
	if code != 0 {
		t.Fatalf("replay: exit %d: %s\n%s", code, stderr, stdout)
	}
	if n := len(model.Requests()); n != 3 {
		t.Errorf("the replay made %d requests, want 1: the call that had succeeded comes from the cache", n-2)
	}
	code, stdout, _ = c.run(t, "status", failed.Job, "--output", "json")
	var r JobReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || code != 0 {
		t.Fatalf("status: exit %d, %v", code, err)
	}
	u := r.Tasks[0].Usage
	if r.State != planner.JobSucceeded || u == nil || u.Calls != 2 || u.CachedCalls != 1 {
		t.Errorf("job %s, task usage %+v: want 2 paid calls over both runs and 1 from the cache", r.State, u)
	}
	data, err := c.st.Store.Read(context.Background(), failed.Job, "docs/decisions.md")
	if err != nil || string(data) != "# Decisions\n" {
		t.Errorf("docs/decisions.md = %q, %v", data, err)
	}
}
