package stack_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/workers"
)

// runDiagJob runs a small DAG with a conflict-free fan-in on st and
// returns its final status.
func runDiagJob(t *testing.T, st *stack.Stack) *planner.JobStatus {
	t.Helper()
	ctx := context.Background()
	if err := st.Broker.EnsureTopology(ctx, st.Skills.Roles()); err != nil {
		t.Fatal(err)
	}
	pool, err := workers.NewPool(st.PoolDeps(nil), workers.Config{Roles: []string{specialists.RoleDiag}, MaxAgents: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer pool.Shutdown(ctx)
	subs := []planner.Subtask{{ID: "root", Role: "diag", Skill: "noop"}}
	var ids []string
	for i := range 10 {
		id := fmt.Sprintf("mid%d", i)
		subs = append(subs, planner.Subtask{ID: id, Role: "diag", Skill: "noop", DependsOn: []string{"root"}})
		ids = append(ids, id)
	}
	subs = append(subs, planner.Subtask{ID: "join", Role: "diag", Skill: "noop", DependsOn: ids})
	job, err := st.Submitter().Submit(ctx, &planner.Plan{Name: "embedded", Goal: "test", Phases: []planner.Phase{{Name: "all", Subtasks: subs}}})
	if err != nil {
		t.Fatal(err)
	}
	var js *planner.JobStatus
	testenv.Eventually(t, 20*time.Second, "the job to end", func() bool {
		js, err = st.Ledger.JobSummary(ctx, job)
		return err == nil && js.Done()
	})
	files, err := st.Store.Files(ctx, job)
	if err != nil || len(files) != len(subs) {
		t.Errorf("%d artifacts (%v), want %d", len(files), err, len(subs))
	}
	return js
}

func TestTheEmbeddedDefaultRunsAJobWithRedisServer(t *testing.T) {
	st, err := stack.Open(context.Background(), stack.Options{Embed: true, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.EmbeddedRedis != "redis-server" {
		t.Fatalf("embedded redis is %q with redis-server on PATH", st.EmbeddedRedis)
	}
	if js := runDiagJob(t, st); js.State != planner.JobSucceeded {
		t.Fatalf("job %s", js.State)
	}
}

// Without redis-server on PATH, as on a fresh machine, the embedded default
// falls back to the in-process miniredis; its Lua must run our scripts.
func TestTheEmbeddedDefaultRunsAJobOnMiniredisWithoutRedisServer(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	st, err := stack.Open(context.Background(), stack.Options{Embed: true, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.EmbeddedRedis != "miniredis" {
		t.Fatalf("embedded redis is %q without redis-server on PATH", st.EmbeddedRedis)
	}
	if js := runDiagJob(t, st); js.State != planner.JobSucceeded {
		t.Fatalf("job %s", js.State)
	}
}

func TestOpenWithoutServersOrEmbeddingIsRefused(t *testing.T) {
	_, err := stack.Open(context.Background(), stack.Options{NATSURL: "nats://127.0.0.1:4222"})
	if err != stack.ErrNoServers {
		t.Fatalf("err = %v, want ErrNoServers", err)
	}
}

func TestTheEmbeddedStoreLivesInTheDataDir(t *testing.T) {
	dir := t.TempDir()
	st, err := stack.Open(context.Background(), stack.Options{Embed: true, DataDir: dir, Persist: true})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, sub := range []string{"nats", "redis"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
			t.Errorf("no %s directory in the data dir: %v", sub, err)
		}
	}
}
