package cli

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/workers"
)

// A poison task that fails until its fifth attempt, with three deliveries
// allowed: it dies after the third, its job fails and blocks its
// dependent; one replay of the job lets it succeed at the fifth attempt
// and the job finish.
func TestAPoisonTaskDiesAndOneReplayFinishesItsJob(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	n := testenv.StartNATS(t)
	r := testenv.StartRedis(t)
	st, err := stack.Open(ctx, stack.Options{NATSURL: n.URL(), RedisURL: r.URL, Prefix: r.Prefix, Log: zap.NewNop(), Broker: broker.Config{MaxDeliver: 3}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Broker.EnsureTopology(ctx, st.Skills.Roles()); err != nil {
		t.Fatal(err)
	}
	pool, err := workers.NewPool(st.PoolDeps(zap.NewNop()), workers.Config{Roles: []string{specialists.RoleDiag}, MaxAgents: 2, Name: "w",
		RetryInitial: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Shutdown(context.Background()) })
	flags := []string{"--nats", n.URL(), "--redis", r.URL, "--prefix", r.Prefix, "--max-deliver", "3"}
	cli := func(args ...string) (int, string, string) { return execute(t, append(args, flags...)...) }

	job, err := st.Submitter().Submit(ctx, &planner.Plan{Name: "poison", Goal: "replay", Phases: []planner.Phase{{Name: "all", Subtasks: []planner.Subtask{
		{ID: "poison", Title: "fails four times", Role: specialists.RoleDiag, Skill: "fail", Params: map[string]string{"until_attempt": "5"}},
		{ID: "after", Title: "needs the poison", Role: specialists.RoleDiag, Skill: "noop", DependsOn: []string{"poison"}},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the job to fail", func() bool {
		js, err := st.Ledger.JobSummary(ctx, job)
		return err == nil && js.State == planner.JobFailed
	})

	code, stdout, stderr := cli("dlq", "ls", "--job", job, "--output", "json")
	if code != 0 {
		t.Fatalf("dlq ls: exit %d: %s", code, stderr)
	}
	var letters []DeadLetterReport
	if err := json.Unmarshal([]byte(stdout), &letters); err != nil {
		t.Fatalf("dlq ls: %v\n%s", err, stdout)
	}
	if len(letters) != 1 || letters[0].Task != "poison" || letters[0].Attempts != 3 || !strings.Contains(letters[0].Error, "attempt 3 of until_attempt 5") {
		t.Fatalf("dead letters %+v, want the poison task after its third attempt", letters)
	}
	code, stdout, _ = cli("dlq", "show", "1")
	if code != 0 || !strings.Contains(stdout, `"skill":"fail"`) || !strings.Contains(stdout, "attempts: 3") {
		t.Errorf("dlq show: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = cli("status", job)
	if code != 0 || !strings.Contains(stdout, "poison") || !regexpLine(stdout, `after\s+diag\s+blocked`) || !regexpLine(stdout, `poison\s+diag\s+dead`) {
		t.Errorf("status before the replay:\n%s", stdout)
	}

	code, stdout, stderr = cli("replay", "--job", job, "--wait", "--output", "json")
	if code != 0 {
		t.Fatalf("replay: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "replayed "+job+"/poison (generation 1); waiting for it again: after") {
		t.Errorf("replay stderr:\n%s", stderr)
	}
	var rep JobReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("replay --output json: %v\n%s", err, stdout)
	}
	if rep.State != planner.JobSucceeded {
		t.Fatalf("job after the replay: %+v", rep)
	}
	for _, task := range rep.Tasks {
		switch task.ID {
		case "poison":
			if task.State != planner.StateSucceeded || task.Attempts != 5 || task.Replays != 1 {
				t.Errorf("poison after the replay: %+v, want succeeded at attempt 5 after one replay", task)
			}
		case "after":
			if task.State != planner.StateSucceeded {
				t.Errorf("after: %+v", task)
			}
		}
	}
	code, stdout, _ = cli("dlq", "ls")
	if code != 0 || stdout != "No dead letters.\n" {
		t.Errorf("dlq ls after the replay: exit %d\n%s", code, stdout)
	}
	code, _, stderr = cli("replay", job+"/poison")
	if code != ExitUsage || !strings.Contains(stderr, "only a dead task can be replayed (it is succeeded)") {
		t.Errorf("replaying a succeeded task: exit %d, %s", code, stderr)
	}
}

func TestPurgeNeedsConfirmation(t *testing.T) {
	c := startCluster(t)
	if code, _, stderr := c.run(t, "dlq", "purge"); code != ExitUsage || !strings.Contains(stderr, "--yes") {
		t.Errorf("purge without --yes: exit %d, %s", code, stderr)
	}
	if code, stdout, stderr := c.run(t, "dlq", "purge", "--yes"); code != 0 || stdout != "purged 0 dead letters\n" {
		t.Errorf("purge: exit %d, %q %s", code, stdout, stderr)
	}
	if code, _, stderr := c.run(t, "replay"); code != ExitUsage || !strings.Contains(stderr, "say what to replay") {
		t.Errorf("replay of nothing: exit %d, %s", code, stderr)
	}
}

// regexpLine reports whether some line of s matches the pattern.
func regexpLine(s, pattern string) bool {
	return regexp.MustCompile(`(?m)^\s*` + pattern).MatchString(s)
}

func TestBrokerInitCreatesEveryConsumer(t *testing.T) {
	c := startCluster(t)
	code, stdout, stderr := c.run(t, "broker", "init", "--max-deliver-role", "data-science-analyst=2", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep TopologyReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Streams) != 3 || len(rep.Consumers) != 3*len(c.st.Skills.Roles()) {
		t.Errorf("report %+v", rep)
	}
	ctx := context.Background()
	for _, name := range rep.Consumers {
		info, err := c.st.Broker.JetStream().Consumer(ctx, broker.TasksStream, name)
		if err != nil {
			t.Errorf("consumer %s: %v", name, err)
			continue
		}
		want := 5
		if strings.HasPrefix(name, "tasks-data-science-analyst-") {
			want = 2
		}
		if got := info.CachedInfo().Config.MaxDeliver; got != want {
			t.Errorf("consumer %s: max deliver %d, want %d", name, got, want)
		}
	}
	if code, _, stderr := c.run(t, "broker", "init", "--roles", "wizard"); code != ExitUsage || !strings.Contains(stderr, `unknown role "wizard"`) {
		t.Errorf("unknown role: exit %d, %s", code, stderr)
	}
}
