package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/workers"
)

// sharedServers starts NATS and Redis for one test and returns the stack
// over them and the flags that point a command at them.
func sharedServers(t *testing.T) (*stack.Stack, []string) {
	t.Helper()
	isolate(t)
	n := testenv.StartNATS(t)
	r := testenv.StartRedis(t)
	st, err := stack.Open(context.Background(), stack.Options{NATSURL: n.URL(), RedisURL: r.URL, Prefix: r.Prefix, Log: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Broker.EnsureTopology(context.Background(), st.Skills.Roles()); err != nil {
		t.Fatal(err)
	}
	return st, []string{"--nats", n.URL(), "--redis", r.URL, "--prefix", r.Prefix}
}

// startPool runs a diag pool until the test ends.
func startPool(t *testing.T, deps workers.Deps, cfg workers.Config) *workers.Pool {
	t.Helper()
	cfg.Roles = []string{specialists.RoleDiag}
	pool, err := workers.NewPool(deps, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Shutdown(context.Background()) })
	return pool
}

// submitDiag submits the subtasks as a one-phase job.
func submitDiag(t *testing.T, st *stack.Stack, subs ...planner.Subtask) string {
	t.Helper()
	job, err := st.Submitter().Submit(context.Background(), &planner.Plan{Name: "diag", Goal: "test", Phases: []planner.Phase{{Name: "all", Subtasks: subs}}})
	if err != nil {
		t.Fatal(err)
	}
	return job
}

func nap(id, d string) planner.Subtask {
	return planner.Subtask{ID: id, Title: "Nap for " + d, Role: specialists.RoleDiag, Skill: "sleep", Params: map[string]string{"duration": d}}
}

func TestAgentsShowsWhatEachLiveAgentRuns(t *testing.T) {
	st, flags := sharedServers(t)
	ctx := context.Background()
	startPool(t, st.PoolDeps(zap.NewNop()), workers.Config{MaxAgents: 2, Name: "pool", Grace: 10 * time.Millisecond})
	job := submitDiag(t, st, nap("nap", "1m"))
	var agents []workers.AgentInfo
	testenv.Eventually(t, 10*time.Second, "an agent to show its task", func() bool {
		var err error
		agents, err = workers.ListAgents(ctx, st.Redis, st.Ledger.Keys())
		return err == nil && len(agents) == 2 && (!agents[0].Idle() || !agents[1].Idle())
	})
	busy, idle := agents[0], agents[1]
	if busy.Idle() {
		busy, idle = idle, busy
	}
	host, pid := busy.Host, busy.PID
	if h, _ := os.Hostname(); host != h || pid != os.Getpid() {
		t.Errorf("host %s pid %d, want this process's", host, pid)
	}
	now := busy.Since.Add(42 * time.Second)

	t.Run("text is our users' format", func(t *testing.T) {
		var out bytes.Buffer
		if err := writeAgents(&out, "text", agents, now); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("Active Agents:\n[diag]: Nap for 1m (job %s, 42s)\n[diag]: idle\n", job)
		if out.String() != want {
			t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
		}
	})

	t.Run("wide adds the agent, its host, pid, uptime, tasks done and task", func(t *testing.T) {
		var out bytes.Buffer
		if err := writeAgents(&out, "wide", agents, now); err != nil {
			t.Fatal(err)
		}
		uptime := formatElapsed(now.Sub(busy.Started))
		want := [][]string{
			{"AGENT", "HOST", "PID", "UPTIME", "DONE", "ROLE", "TASK", "JOB", "ELAPSED", "TITLE"},
			{busy.ID, host, fmt.Sprint(pid), uptime, "0", "diag", "nap", job, "42s", "Nap", "for", "1m"},
			{idle.ID, host, fmt.Sprint(pid), uptime, "0", "diag", "-", "-", "-", "idle"},
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != len(want) {
			t.Fatalf("output:\n%s", out.String())
		}
		for i, l := range lines {
			if got := strings.Fields(l); fmt.Sprint(got) != fmt.Sprint(want[i]) {
				t.Errorf("line %d: %q, want the fields %q", i, l, want[i])
			}
		}
		if col := strings.Index(lines[0], "TITLE"); strings.Index(lines[1], "Nap") != col || strings.Index(lines[2], "idle") != col {
			t.Errorf("the columns are not aligned:\n%s", out.String())
		}
	})

	t.Run("the command prints the same from any node", func(t *testing.T) {
		code, stdout, stderr := execute(t, append([]string{"agents"}, flags...)...)
		if code != 0 || stderr != "" {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		want := regexp.MustCompile(`^Active Agents:\n\[diag\]: Nap for 1m \(job ` + regexp.QuoteMeta(job) + `, \d+s\)\n\[diag\]: idle\n$`)
		if !want.MatchString(stdout) {
			t.Errorf("stdout:\n%s", stdout)
		}
	})

	t.Run("json is an array of objects with stable fields", func(t *testing.T) {
		code, stdout, stderr := execute(t, append([]string{"agents", "--output", "json"}, flags...)...)
		if code != 0 || stderr != "" {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		var raw []map[string]any
		if err := json.Unmarshal([]byte(stdout), &raw); err != nil || len(raw) != 2 {
			t.Fatalf("stdout is not an array of two objects (%v):\n%s", err, stdout)
		}
		for _, k := range []string{"id", "host", "pid", "roles", "started", "uptime_s", "tasks_done", "state", "job", "task", "role", "title", "since", "elapsed_s"} {
			if _, ok := raw[0][k]; !ok {
				t.Errorf("the busy agent has no field %q: %v", k, raw[0])
			}
		}
		var got []AgentReport
		_ = json.Unmarshal([]byte(stdout), &got)
		if a := got[0]; a.ID != busy.ID || a.State != AgentBusy || a.Job != job || a.Task != "nap" || a.Role != "diag" ||
			a.Title != "Nap for 1m" || a.ElapsedS <= 0 || a.UptimeS < a.ElapsedS || a.PID != pid {
			t.Errorf("busy agent %+v", a)
		}
		if a := got[1]; a.ID != idle.ID || a.State != AgentIdle || a.Task != "" || fmt.Sprint(a.Roles) != "[diag]" || a.Since != (time.Time{}) {
			t.Errorf("idle agent %+v", a)
		}
	})

	t.Run("json through a real pipe has nothing but JSON", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], append([]string{"agents", "--output", "json"}, flags...)...)
		cmd.Env = append(os.Environ(), "ORCHESTRATE_TEST_AS_MAIN=1", "NO_COLOR=")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		if ansi.Match(stdout) || strings.ContainsRune(string(stdout), '\r') || stderr.Len() != 0 {
			t.Errorf("stdout %q\nstderr %q", stdout, stderr.String())
		}
		var got []AgentReport
		if err := json.Unmarshal(stdout, &got); err != nil || len(got) != 2 {
			t.Errorf("stdout is not the agents (%v): %s", err, stdout)
		}
	})
}

func TestAgentsSaysSoWhenNoneIsLive(t *testing.T) {
	_, flags := sharedServers(t)
	cases := []struct{ output, want string }{
		{"text", "No active agents.\n"},
		{"wide", "AGENT  HOST  PID  UPTIME  DONE  ROLE  TASK  JOB  ELAPSED  TITLE\n"},
		{"json", "[]\n"},
	}
	for _, c := range cases {
		t.Run(c.output, func(t *testing.T) {
			code, stdout, stderr := execute(t, append([]string{"agents", "-o", c.output}, flags...)...)
			if code != 0 || stdout != c.want || stderr != "" {
				t.Errorf("exit %d, stdout %q (want %q), stderr %q", code, stdout, c.want, stderr)
			}
		})
	}
}

// An agent whose heartbeats stop (a node lost, its process killed) leaves
// the list once its TTL passes, while agents that still beat stay.
func TestAnAgentWhoseHeartbeatExpiredIsNotShown(t *testing.T) {
	st, flags := sharedServers(t)
	const ttl = 600 * time.Millisecond
	startPool(t, st.PoolDeps(zap.NewNop()), workers.Config{MaxAgents: 1, Name: "alive", HeartbeatTTL: ttl})
	// The lost pool talks to Redis through a client of its own, which the
	// test closes to cut its heartbeats without unregistering it.
	opt, err := redis.ParseURL(st.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	lost := redis.NewClient(opt)
	deps := st.PoolDeps(zap.NewNop())
	deps.Redis = lost
	startPool(t, deps, workers.Config{MaxAgents: 1, Name: "lost", HeartbeatTTL: ttl})

	ids := func() string {
		code, stdout, stderr := execute(t, append([]string{"agents", "-o", "json"}, flags...)...)
		var got []AgentReport
		if err := json.Unmarshal([]byte(stdout), &got); code != 0 || err != nil {
			t.Fatalf("exit %d (%v): %s %s", code, err, stdout, stderr)
		}
		var s []string
		for _, a := range got {
			s = append(s, a.ID)
		}
		return strings.Join(s, " ")
	}
	if got := ids(); got != "alive-a1 lost-a1" {
		t.Fatalf("agents %q, want both pools'", got)
	}
	cut := time.Now()
	_ = lost.Close()
	var got string
	testenv.Eventually(t, 10*time.Second, "the lost agent to leave the list", func() bool {
		got = ids()
		return got != "alive-a1 lost-a1"
	})
	if got != "alive-a1" {
		t.Errorf("agents %q, want only the one that still beats", got)
	}
	// Well under the default TTL of 15s: the pool's TTL governs.
	if d := time.Since(cut); d > 5*time.Second {
		t.Errorf("the lost agent stayed %s after its last heartbeat, with a TTL of %s", d, ttl)
	}
}
