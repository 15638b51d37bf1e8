package planner_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/planner"
)

func newLedger(t *testing.T) *planner.Ledger {
	t.Helper()
	r := testenv.StartRedis(t)
	return planner.NewLedger(r.Client(t), r.Prefix)
}

func create(t *testing.T, l *planner.Ledger, p *planner.Plan) (string, []*broker.Task) {
	t.Helper()
	job := planner.NewJobID(p.Name)
	tasks, deps := planner.Tasks(job, p)
	if err := l.Create(context.Background(), job, p, tasks, deps, nil); err != nil {
		t.Fatal(err)
	}
	return job, tasks
}

func TestConcurrentCompletionsReleaseADependentExactlyOnce(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t)
	var subs []planner.Subtask
	var ids []string
	for i := range 50 {
		id := fmt.Sprintf("up%d", i)
		subs = append(subs, st(id))
		ids = append(ids, id)
	}
	subs = append(subs, st("join", ids...))
	job, tasks := create(t, l, plan(subs...))

	var wg sync.WaitGroup
	released := make(chan string, 100)
	for _, tk := range tasks[:50] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := l.Check(ctx, tk, "w")
			if err != nil || !r.Run() {
				t.Errorf("check %s: %v %v", tk.ID, r, err)
				return
			}
			res, err := l.Complete(ctx, job, tk.ID, "", planner.CompleteOptions{Run: planner.Run{Worker: "w", Started: time.Now(), Attempts: r.Attempts}})
			if err != nil {
				t.Errorf("complete %s: %v", tk.ID, err)
				return
			}
			for _, r := range res.Ready {
				released <- r.ID
			}
		}()
	}
	wg.Wait()
	close(released)
	var got []string
	for id := range released {
		got = append(got, id)
	}
	if len(got) != 1 || got[0] != "join" {
		t.Fatalf("released %v, want [join] once", got)
	}
	js, _ := l.JobSummary(ctx, job)
	if js.Succeeded != 50 || js.State != planner.JobRunning {
		t.Errorf("job %s with %d succeeded", js.State, js.Succeeded)
	}
}

func TestCheckAndClaimSayWhyATaskMustNotRun(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t)
	job, tasks := create(t, l, plan(st("a"), st("b", "a")))
	a, b := tasks[0], tasks[1]

	if r, _ := l.Check(ctx, b, "w1"); r.Verdict != "waiting" {
		t.Errorf("a task with dependencies left: verdict %q, want waiting", r.Verdict)
	}
	if r, _ := l.Check(ctx, a, "w1"); !r.Run() || r.Attempts != 1 {
		t.Fatalf("first check: %+v", r)
	}
	if r, _ := l.Claim(ctx, a, "w1", time.Minute, 1); !r.Run() || r.Attempts != 1 {
		t.Fatalf("claim: %+v", r)
	}
	if r, _ := l.Check(ctx, a, "w2"); r.Verdict != "busy" {
		t.Errorf("a second agent under a live lease: verdict %q, want busy", r.Verdict)
	}
	if r, _ := l.Claim(ctx, a, "w2", time.Minute, 1); r.Verdict != "busy" {
		t.Errorf("a second agent's claim under a live lease: verdict %q, want busy", r.Verdict)
	}
	if r, _ := l.Check(ctx, a, "w1"); !r.Run() || r.Attempts != 2 {
		t.Errorf("the lease holder's redelivery: %+v, want run at attempt 2", r)
	}
	res, err := l.Complete(ctx, job, "a", "ok", planner.CompleteOptions{Run: planner.Run{Worker: "w1", Started: time.Now(), Attempts: 2}})
	if err != nil || !res.First || len(res.Ready) != 1 {
		t.Fatalf("complete: %+v %v", res, err)
	}
	js, _ := l.Job(ctx, job)
	if js.Tasks[0].Attempts != 2 || js.Tasks[0].Worker != "w1" || js.Tasks[0].Started.IsZero() {
		t.Errorf("the completion did not record the execution: %+v", js.Tasks[0])
	}
	if r, _ := l.Check(ctx, a, "w2"); r.Verdict != "succeeded" {
		t.Errorf("a redelivery after success: verdict %q", r.Verdict)
	}
	if r, _ := l.Claim(ctx, a, "w2", time.Minute, 3); r.Verdict != "succeeded" {
		t.Errorf("a claim after success: verdict %q", r.Verdict)
	}
	again, err := l.Complete(ctx, job, "a", "ok", planner.CompleteOptions{})
	if err != nil || again.First || len(again.Ready) != 1 {
		t.Errorf("a second completion: %+v %v; want not first, b still offered until queued", again, err)
	}
	if err := l.MarkQueued(ctx, job, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	if again, _ := l.Complete(ctx, job, "a", "ok", planner.CompleteOptions{}); len(again.Ready) != 0 {
		t.Errorf("b offered again after it was queued: %+v", again)
	}
	stale := *b
	stale.Generation = -1
	if r, _ := l.Check(ctx, &stale, "w1"); r.Verdict != "stale" {
		t.Errorf("an older generation: verdict %q", r.Verdict)
	}
	if res, _ := l.Complete(ctx, job, "b", "", planner.CompleteOptions{Run: planner.Run{Generation: -1}}); !res.Stale {
		t.Errorf("the completion of an older generation: %+v, want stale", res)
	}
}

func TestAnExpiredLeaseLetsAnotherAgentTakeOver(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t)
	_, tasks := create(t, l, plan(st("a")))
	if r, _ := l.Claim(ctx, tasks[0], "dead-worker", time.Millisecond, 1); !r.Run() {
		t.Fatal("first claim refused")
	}
	testenv.Eventually(t, 2*time.Second, "the lease to expire and another agent to run the task", func() bool {
		r, err := l.Check(ctx, tasks[0], "w2")
		return err == nil && r.Run()
	})
}

func TestDeathBlocksEverythingDownstream(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t)
	job, _ := create(t, l, plan(st("a"), st("b", "a"), st("c", "b"), st("d", "a", "c"), st("other")))
	res, err := l.Dead(ctx, job, "a", "boom", planner.Run{Worker: "w", Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !res.JobFailed || len(res.Blocked) != 3 {
		t.Fatalf("dead result %+v, want job failed and b, c, d blocked", res)
	}
	js, _ := l.Job(ctx, job)
	want := map[string]string{"a": "dead", "b": "blocked", "c": "blocked", "d": "blocked", "other": "ready"}
	for _, ts := range js.Tasks {
		if ts.State != want[ts.ID] {
			t.Errorf("task %s is %s, want %s", ts.ID, ts.State, want[ts.ID])
		}
	}
	if js.State != planner.JobFailed || js.Dead != 1 {
		t.Errorf("job %s with %d dead", js.State, js.Dead)
	}
}

func TestAJobIsListedOnlyOnceAllItsTasksAreWritten(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t)
	var subs []planner.Subtask
	for i := range 1200 { // more than one pipeline chunk
		subs = append(subs, st(fmt.Sprintf("t%d", i)))
	}
	job, _ := create(t, l, plan(subs...))
	jobs, err := l.Jobs(ctx, 10)
	if err != nil || len(jobs) != 1 || jobs[0].ID != job || jobs[0].Total != 1200 {
		t.Fatalf("jobs = %+v, %v", jobs, err)
	}
	js, _ := l.Job(ctx, job)
	if len(js.Tasks) != 1200 || js.Tasks[1199].ID != "t1199" || js.Tasks[0].State != planner.StateReady {
		t.Errorf("read back %d tasks", len(js.Tasks))
	}
	if _, err := l.JobSummary(ctx, "nope"); err == nil {
		t.Error("an unknown job was found")
	}
}

// Two dead upstreams block a join; replaying one leaves the join blocked
// by the other, replaying both lets it wait again, and the job runs again
// once no task is dead.
func TestReplayUnblocksWhatNoOtherDeadTaskBlocks(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t)
	job, tasks := create(t, l, plan(st("a"), st("b"), st("join", "a", "b"), st("tail", "join")))
	run := planner.Run{Worker: "w", Started: time.Now(), Attempts: 3}
	for _, id := range []string{"a", "b"} {
		if _, err := l.Dead(ctx, job, id, "boom", run); err != nil {
			t.Fatal(err)
		}
	}
	state := func(id string) string {
		js, err := l.Job(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range js.Tasks {
			if tk.ID == id {
				return tk.State
			}
		}
		return "missing"
	}
	if js, _ := l.JobSummary(ctx, job); js.State != planner.JobFailed || state("join") != planner.StateBlocked || state("tail") != planner.StateBlocked {
		t.Fatalf("before the replays: job %s, join %s, tail %s", js.State, state("join"), state("tail"))
	}
	res, err := l.Replay(ctx, job, "a")
	if err != nil {
		t.Fatal(err)
	}
	if res.Task.Generation != 1 || res.Task.MsgID() == tasks[0].MsgID() || len(res.Unblocked) != 0 {
		t.Errorf("replay of a: generation %d, msg id %s, unblocked %v", res.Task.Generation, res.Task.MsgID(), res.Unblocked)
	}
	if state("join") != planner.StateBlocked {
		t.Errorf("join is %s while b is still dead", state("join"))
	}
	if js, _ := l.JobSummary(ctx, job); js.State != planner.JobFailed {
		t.Errorf("the job is %s while b is still dead", js.State)
	}
	res, err = l.Replay(ctx, job, "b")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unblocked) != 2 || state("join") != planner.StatePending || state("tail") != planner.StatePending {
		t.Errorf("after replaying b: unblocked %v, join %s, tail %s", res.Unblocked, state("join"), state("tail"))
	}
	if js, _ := l.JobSummary(ctx, job); js.State != planner.JobRunning || js.Dead != 0 {
		t.Errorf("job %s with %d dead after both replays", js.State, js.Dead)
	}
	// The replayed task runs with its attempts counting on.
	r, err := l.Check(ctx, res.Task, "w")
	if err != nil || !r.Run() || r.Attempts != 4 {
		t.Errorf("check of the replayed task: %+v, %v; want to run attempt 4", r, err)
	}
	if _, err := l.Check(ctx, tasks[1], "w"); err != nil {
		t.Fatal(err)
	}
	if r, _ := l.Check(ctx, tasks[1], "w"); r.Verdict != "stale" {
		t.Errorf("the old generation's message: verdict %q, want stale", r.Verdict)
	}
	if _, err := l.Replay(ctx, job, "join"); !errors.Is(err, planner.ErrNotDead) {
		t.Errorf("replaying a pending task: err = %v, want ErrNotDead", err)
	}
	if _, err := l.Replay(ctx, job, "nope"); !errors.Is(err, planner.ErrNoTask) {
		t.Errorf("replaying a missing task: err = %v, want ErrNoTask", err)
	}
}
