package cli

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/redisproc"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// chaosSize reads the size of the chaos run: the suite's bounded one by
// default, a longer one with ORCHESTRATE_CHAOS_TASKS (task chaos).
func chaosSize(t *testing.T) (tasks int, deadline time.Duration) {
	tasks, deadline = 500, 3*time.Minute
	if v := os.Getenv("ORCHESTRATE_CHAOS_TASKS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("ORCHESTRATE_CHAOS_TASKS=%q: want a number of subtasks", v)
		}
		tasks, deadline = n, 15*time.Minute
	}
	return tasks, deadline
}

// TestChaos runs a job of diag subtasks with random dependencies on three
// worker processes while a driver kills a random worker with SIGKILL
// every second and starts it again, and restarts NATS once and Redis
// (with its append-only file) once. Every subtask must succeed exactly
// once as an effect: one artifact each, the ledger's counts exact, no
// dependency released twice, and nothing left on ORCH_TASKS.
func TestChaos(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	tasks, deadline := chaosSize(t)
	rng := rand.New(rand.NewPCG(42, 7))

	n := testenv.StartNATS(t)
	port, err := redisproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	redisDir := t.TempDir()
	startRedis := func() *redisproc.Proc {
		p, err := redisproc.Start(ctx, redisproc.Options{Dir: redisDir, Port: port, AppendOnly: true})
		if err != nil {
			t.Fatalf("redis-server: %v", err)
		}
		return p
	}
	var mu sync.Mutex
	rp := startRedis()
	t.Cleanup(func() { mu.Lock(); rp.Stop(); mu.Unlock() })
	const prefix = "chaos:"
	ackWait := 2 * time.Second
	st, err := stack.Open(ctx, stack.Options{NATSURL: n.URL(), RedisURL: rp.URL(), Prefix: prefix, Log: zap.NewNop(),
		Broker: broker.Config{AckWait: ackWait, MaxDeliver: 20}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Broker.EnsureTopology(ctx, st.Skills.Roles()); err != nil {
		t.Fatal(err)
	}
	subs := make([]planner.Subtask, tasks)
	for i := range subs {
		subs[i] = planner.Subtask{ID: fmt.Sprintf("t%04d", i), Title: "chaos", Role: specialists.RoleDiag, Skill: "sleep",
			Params: map[string]string{"duration": fmt.Sprintf("%dms", 50+rng.IntN(250))}}
		for k := 0; k < 2 && i > 0; k++ {
			if rng.IntN(3) == 0 {
				d := subs[rng.IntN(i)].ID
				if len(subs[i].DependsOn) == 0 || subs[i].DependsOn[0] != d {
					subs[i].DependsOn = append(subs[i].DependsOn, d)
				}
			}
		}
	}
	job, err := st.Submitter().Submit(ctx, &planner.Plan{Name: "chaos", Goal: "survive", Phases: []planner.Phase{{Name: "all", Subtasks: subs}}})
	if err != nil {
		t.Fatal(err)
	}

	flags := []string{"--nats", n.URL(), "--redis", rp.URL(), "--prefix", prefix, "--ack-wait", ackWait.String(), "--max-deliver", "20"}
	workers := make([]*exec.Cmd, 3)
	startWorker := func(i int) {
		cmd := exec.Command(os.Args[0], append([]string{"worker", "--roles", "diag", "--max-agents", "4", "--grace", "100ms"}, flags...)...)
		cmd.Env = append(os.Environ(), "ORCHESTRATE_TEST_AS_MAIN=1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		workers[i] = cmd
	}
	for i := range workers {
		startWorker(i)
	}
	t.Cleanup(func() {
		for _, w := range workers {
			_ = w.Process.Kill()
			_, _ = w.Process.Wait()
		}
	})

	start := time.Now()
	kills, natsRestarts, redisRestarts := 0, 0, 0
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		js, err := st.Ledger.JobSummary(ctx, job)
		if err == nil && js.Done() {
			break
		}
		if time.Since(start) > deadline {
			t.Fatalf("the job did not finish within %s: %+v (%v)", deadline, js, err)
		}
		<-tick.C
		elapsed := time.Since(start)
		switch {
		case natsRestarts == 0 && elapsed > 3*time.Second:
			n.Restart(t)
			natsRestarts++
		case redisRestarts == 0 && elapsed > 6*time.Second:
			mu.Lock()
			rp.Stop()
			rp = startRedis()
			mu.Unlock()
			redisRestarts++
		default:
			i := rng.IntN(len(workers))
			_ = workers[i].Process.Signal(syscall.SIGKILL)
			_, _ = workers[i].Process.Wait()
			kills++
			startWorker(i)
		}
	}
	wall := time.Since(start)

	js, err := st.Ledger.Job(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if js.State != planner.JobSucceeded || js.Succeeded != tasks || js.Total != tasks || js.Dead != 0 {
		t.Fatalf("job %s: %d of %d succeeded, %d dead", js.State, js.Succeeded, js.Total, js.Dead)
	}
	lost := 0
	for _, tk := range js.Tasks {
		if tk.State != planner.StateSucceeded {
			lost++
		}
	}
	// Executions as the events tell them: a task run again after its
	// worker was killed shows a second running event. (Events published
	// while NATS restarted may be missing, so these are lower bounds.)
	runs, completions := map[string]int{}, map[string]int{}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_ = st.Broker.Watch(wctx, job, func(e broker.Event) bool {
		switch e.Kind {
		case broker.EventRunning:
			runs[e.Task]++
		case broker.EventSucceeded:
			completions[e.Task]++
		}
		return true
	})
	cancel()
	redeliveries := 0
	for task, n := range runs {
		redeliveries += n - 1
		if completions[task] > 1 {
			t.Errorf("task %s completed %d times", task, completions[task])
		}
	}
	// A dependency released twice would drive deps_left below zero.
	rdb := st.Redis
	duplicates := 0
	for _, s := range subs {
		left, err := rdb.HGet(ctx, st.Ledger.Keys().Task(job, s.ID), "deps_left").Int()
		if err != nil || left != 0 {
			duplicates++
		}
	}
	files, err := st.Store.Files(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	byTask := map[string]int{}
	for _, f := range files {
		byTask[f.Task]++
	}
	for _, s := range subs {
		if byTask[s.ID] != 1 {
			t.Errorf("task %s has %d artifacts, want 1", s.ID, byTask[s.ID])
		}
	}
	stream, err := st.Broker.JetStream().Stream(ctx, broker.TasksStream)
	if err != nil {
		t.Fatal(err)
	}
	// A task completed by a worker killed before its ack is delivered once
	// more after the ack wait, found succeeded and acknowledged.
	var left uint64
	testenv.Eventually(t, 5*ackWait, "ORCH_TASKS to empty", func() bool {
		info, err := stream.Info(ctx)
		left = info.State.Msgs
		return err == nil && left == 0
	})
	if lost != 0 || duplicates != 0 || len(files) != tasks {
		t.Errorf("lost %d, duplicates %d, artifacts %d of %d", lost, duplicates, len(files), tasks)
	}
	t.Logf("chaos: %d subtasks, %d worker kills, %d NATS restart, %d Redis restart, %d redeliveries, %d duplicates, %d lost, wall time %s",
		tasks, kills, natsRestarts, redisRestarts, redeliveries, duplicates, lost, wall.Round(time.Millisecond))
}
