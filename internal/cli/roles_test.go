package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/roleconfig"
)

// A role configured with the exec executor runs a shell-script agent for
// its subtasks; the script's files become the job's artifacts.
func TestAnExecRoleRunsItsAgent(t *testing.T) {
	c := startCluster(t)
	dir := t.TempDir()
	agent := filepath.Join(dir, "agent.sh")
	if err := os.WriteFile(agent, []byte("#!/bin/sh\nset -eu\necho \"$ORCHESTRATE_TASK did $ORCHESTRATE_SKILL\" > out-$ORCHESTRATE_TASK.txt\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	roles := filepath.Join(dir, "roles.yaml")
	if err := os.WriteFile(roles, []byte("roles:\n  diag:\n    executor: exec\n    command: [\""+agent+"\"]\n    timeout: 1m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := planner.NewPlans(c.st.Redis, c.st.Prefix).Save(context.Background(), diagPlan("agents")); err != nil {
		t.Fatal(err)
	}
	// A pool of this process, with the roles file, serves the job.
	serveWithRoles(t, c, roles)
	code, stdout, stderr := c.run(t, "execute-plan", "agents", "--wait", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r JobReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || r.State != planner.JobSucceeded {
		t.Fatalf("report %+v (%v)", r, err)
	}
	data, err := c.st.Store.Read(context.Background(), r.Job, "out-a.txt")
	if err != nil || string(data) != "a did noop\n" {
		t.Errorf("out-a.txt = %q, %v", data, err)
	}
	if code, _, stderr := c.run(t, "jobs", "--roles-config", filepath.Join(dir, "missing.yaml")); code != ExitUsage || !strings.Contains(stderr, "missing.yaml") {
		t.Errorf("a missing roles file: exit %d, %s", code, stderr)
	}
}

func TestRolesThatCannotBeAppliedAreNamed(t *testing.T) {
	parse := func(file string) *roleconfig.Config {
		rc, err := roleconfig.Parse([]byte(file))
		if err != nil {
			t.Fatal(err)
		}
		return rc
	}
	for _, tc := range []struct {
		name string
		rc   *roleconfig.Config
		want string
	}{
		{"an unknown exec role", parse("roles:\n  wizard:\n    executor: exec\n    command: [x]\n"), "roles.wizard: unknown role"},
		{"an unknown llm role", parse("roles:\n  wizard:\n    executor: llm\n    provider: openai\n    model: m\n"), "roles.wizard: unknown role"},
		// Parse refuses such a provider; a configuration built in code
		// still meets ApplyRoles' own check.
		{"an unknown provider", &roleconfig.Config{Roles: map[string]roleconfig.Role{
			specialists.RoleMLArchitect: {Executor: roleconfig.ExecutorLLM, Provider: "gemini", Model: "m"},
		}}, `roles.ml-systems-architect: unknown provider "gemini"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := stack.ApplyRoles(stack.Skills(nil, nil), tc.rc, nil)
			if !errors.Is(err, roleconfig.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestAnOpenAIRoleGetsTheLLMExecutor(t *testing.T) {
	rc, err := roleconfig.Parse([]byte("roles:\n  ml-systems-architect:\n    executor: llm\n    provider: openai\n    model: gpt-4.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	reg := stack.Skills(nil, nil)
	if err := stack.ApplyRoles(reg, rc, nil); err != nil {
		t.Fatal(err)
	}
	skill, err := reg.Lookup(specialists.RoleMLArchitect, "scaffold")
	if err != nil {
		t.Fatal(err)
	}
	// Without a base_url the server is OpenAI's: the executor wants its
	// key, and says which variable, before any request.
	t.Setenv("OPENAI_API_KEY", "")
	_, err = skill(context.Background(), &specialists.Request{Job: "j", Task: "scaffold", Role: specialists.RoleMLArchitect, Skill: "scaffold", ScratchRoot: t.TempDir()})
	if !specialists.IsPermanent(err) || !strings.Contains(err.Error(), "OPENAI_API_KEY") {
		t.Errorf("err = %v, want a permanent error naming OPENAI_API_KEY", err)
	}
}

func TestAnLLMRoleGetsTheLLMExecutor(t *testing.T) {
	rc, err := roleconfig.Parse([]byte("roles:\n  ml-systems-architect:\n    executor: llm\n    provider: anthropic\n    model: claude-sonnet-4-5\n"))
	if err != nil {
		t.Fatal(err)
	}
	reg := stack.Skills(nil, nil)
	before, _ := reg.Lookup(specialists.RoleMLArchitect, "scaffold")
	if err := stack.ApplyRoles(reg, rc, nil); err != nil {
		t.Fatal(err)
	}
	after, err := reg.Lookup(specialists.RoleMLArchitect, "scaffold")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%p", before) == fmt.Sprintf("%p", after) {
		t.Error("the role still runs its builtin skill")
	}
	// Without a key the executor says which variable it wanted, before
	// any request.
	t.Setenv("ANTHROPIC_API_KEY", "")
	_, err = after(context.Background(), &specialists.Request{Job: "j", Task: "scaffold", Role: specialists.RoleMLArchitect, Skill: "scaffold", ScratchRoot: t.TempDir()})
	if !specialists.IsPermanent(err) || !strings.Contains(err.Error(), "ANTHROPIC_API_KEY") {
		t.Errorf("err = %v, want a permanent error naming ANTHROPIC_API_KEY", err)
	}
}
