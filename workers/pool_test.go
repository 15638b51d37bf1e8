package workers_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/diag"
	"github.com/orchestrate-dev/orchestrate/workers"
)

// env is one test's servers and the system's parts over them.
type env struct {
	nats   *testenv.NATS
	broker *broker.Broker
	rdb    *redis.Client
	ledger *planner.Ledger
	store  *artifacts.Store
	skills *specialists.Registry
}

func newEnv(t *testing.T, cfg broker.Config) *env {
	t.Helper()
	n := testenv.StartNATS(t)
	r := testenv.StartRedis(t)
	b, err := broker.New(n.Connect(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	skills := specialists.NewRegistry()
	diag.Register(skills)
	if err := b.EnsureTopology(context.Background(), skills.Roles()); err != nil {
		t.Fatal(err)
	}
	rdb := r.Client(t)
	return &env{
		nats: n, broker: b, rdb: rdb, skills: skills,
		ledger: planner.NewLedger(rdb, r.Prefix),
		store:  artifacts.NewStore(rdb, r.Prefix, artifacts.Limits{}),
	}
}

func (e *env) deps() workers.Deps {
	return workers.Deps{Broker: e.broker, Ledger: e.ledger, Store: e.store, Skills: e.skills, Redis: e.rdb}
}

func (e *env) startPool(t *testing.T, cfg workers.Config) *workers.Pool {
	t.Helper()
	if cfg.Roles == nil {
		cfg.Roles = e.skills.Roles()
	}
	if cfg.RetryInitial == 0 {
		cfg.RetryInitial, cfg.RetryMax = 5*time.Millisecond, 20*time.Millisecond
	}
	p, err := workers.NewPool(e.deps(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	return p
}

func (e *env) submit(t *testing.T, p *planner.Plan) string {
	t.Helper()
	job, err := (&planner.Submitter{Ledger: e.ledger, Broker: e.broker, Skills: e.skills}).Submit(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return job
}

func (e *env) waitDone(t *testing.T, job string, timeout time.Duration) *planner.JobStatus {
	t.Helper()
	var js *planner.JobStatus
	testenv.Eventually(t, timeout, "job "+job+" to end", func() bool {
		var err error
		js, err = e.ledger.JobSummary(context.Background(), job)
		return err == nil && js.Done()
	})
	full, err := e.ledger.Job(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	return full
}

func (e *env) events(t *testing.T, job string, want func([]broker.Event) bool) []broker.Event {
	t.Helper()
	var evs []broker.Event
	testenv.Eventually(t, 10*time.Second, "events of job "+job, func() bool {
		var err error
		evs, err = e.broker.Events(context.Background(), job)
		return err == nil && want(evs)
	})
	return evs
}

func subtask(id, skill string, params map[string]string, deps ...string) planner.Subtask {
	return planner.Subtask{ID: id, Title: id, Role: specialists.RoleDiag, Skill: skill, Params: params, DependsOn: deps}
}

func onePhase(subs ...planner.Subtask) *planner.Plan {
	return &planner.Plan{Name: "test", Goal: "test", Phases: []planner.Phase{{Name: "all", Subtasks: subs}}}
}

func count(evs []broker.Event, kind string) int {
	n := 0
	for _, e := range evs {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func TestNoSubtaskStartsBeforeAllItsDependenciesSucceeded(t *testing.T) {
	e := newEnv(t, broker.Config{})
	e.startPool(t, workers.Config{MaxAgents: 4})
	rng := rand.New(rand.NewPCG(7, 7))
	var subs []planner.Subtask
	for i := range 40 {
		var deps []string
		for j := range i {
			if rng.IntN(8) == 0 {
				deps = append(deps, fmt.Sprintf("t%d", j))
			}
		}
		d := fmt.Sprintf("%dms", 1+rng.IntN(4))
		subs = append(subs, subtask(fmt.Sprintf("t%d", i), "sleep", map[string]string{"duration": d}, deps...))
	}
	job := e.submit(t, onePhase(subs...))
	js := e.waitDone(t, job, 30*time.Second)
	if js.State != planner.JobSucceeded {
		t.Fatalf("job %s", js.State)
	}
	evs := e.events(t, job, func(evs []broker.Event) bool { return count(evs, broker.EventSucceeded) == len(subs) })

	succeeded := map[string]time.Time{}
	for _, ev := range evs {
		if ev.Kind == broker.EventSucceeded {
			succeeded[ev.Task] = ev.Time
		}
	}
	checked := 0
	for _, ev := range evs {
		if ev.Kind != broker.EventRunning {
			continue
		}
		for _, s := range subs {
			if s.ID != ev.Task {
				continue
			}
			for _, d := range s.DependsOn {
				done, ok := succeeded[d]
				if !ok || ev.Time.Before(done) {
					t.Errorf("task %s started at %s before dependency %s succeeded (at %v)", s.ID, ev.Time.Format(time.StampMicro), d, done.Format(time.StampMicro))
				}
				checked++
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d dependency edges checked; the DAG is too thin to prove anything", checked)
	}
}

func TestARedeliveredSucceededTaskChangesNothing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, broker.Config{})
	e.startPool(t, workers.Config{MaxAgents: 2})
	job := e.submit(t, onePhase(subtask("a", "noop", nil), subtask("b", "noop", nil, "a")))
	before := e.waitDone(t, job, 10*time.Second)
	filesBefore, err := e.store.Files(ctx, job)
	if err != nil {
		t.Fatal(err)
	}

	// Redeliver a's message as JetStream would after a lost ack: same
	// payload, new publication (a fresh id passes de-duplication).
	tasks, _ := planner.Tasks(job, onePhase(subtask("a", "noop", nil), subtask("b", "noop", nil, "a")))
	data, _ := tasks[0].Encode()
	if _, err := e.broker.JetStream().PublishMsg(ctx, &nats.Msg{
		Subject: broker.TaskSubject("diag", broker.Normal), Data: data,
		Header: nats.Header{nats.MsgIdHdr: []string{"redelivery-of-a"}},
	}); err != nil {
		t.Fatal(err)
	}
	e.events(t, job, func(evs []broker.Event) bool { return count(evs, broker.EventSkipped) == 1 })

	after, err := e.ledger.Job(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("ledger changed:\nbefore %+v\nafter  %+v", before, after)
	}
	filesAfter, _ := e.store.Files(ctx, job)
	if fmt.Sprint(filesBefore) != fmt.Sprint(filesAfter) {
		t.Errorf("artifacts changed:\nbefore %v\nafter  %v", filesBefore, filesAfter)
	}
	s, _ := e.broker.JetStream().Stream(ctx, broker.TasksStream)
	testenv.Eventually(t, 5*time.Second, "the redelivered message to be acked", func() bool {
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs == 0
	})
}

func TestATransientFailureIsRetriedWithBackoffUntilItSucceeds(t *testing.T) {
	e := newEnv(t, broker.Config{MaxDeliver: 5})
	e.startPool(t, workers.Config{MaxAgents: 2})
	job := e.submit(t, onePhase(subtask("flaky", "fail", map[string]string{"until_attempt": "3"})))
	js := e.waitDone(t, job, 10*time.Second)
	if js.State != planner.JobSucceeded || js.Tasks[0].Attempts != 3 {
		t.Fatalf("job %s, attempts %d; want succeeded at attempt 3", js.State, js.Tasks[0].Attempts)
	}
	evs := e.events(t, job, func(evs []broker.Event) bool { return count(evs, broker.EventSucceeded) == 1 })
	if n := count(evs, broker.EventRetrying); n != 2 {
		t.Errorf("%d retrying events, want 2", n)
	}
}

func TestAFailureForGoodIsDeadLetteredAndBlocksDownstream(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name     string
		task     planner.Subtask
		attempts int
	}{
		{"a permanent error goes to the dead letters at once", subtask("bad", "fail-permanent", nil), 1},
		{"a transient error goes there after MaxDeliver deliveries", subtask("bad", "fail", map[string]string{"until_attempt": "5"}), 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, broker.Config{MaxDeliver: 3})
			e.startPool(t, workers.Config{MaxAgents: 2})
			job := e.submit(t, onePhase(c.task, subtask("next", "noop", nil, "bad"), subtask("last", "noop", nil, "next")))
			js := e.waitDone(t, job, 10*time.Second)
			states := map[string]string{}
			for _, ts := range js.Tasks {
				states[ts.ID] = ts.State
			}
			if js.State != planner.JobFailed || states["bad"] != "dead" || states["next"] != "blocked" || states["last"] != "blocked" {
				t.Fatalf("job %s, tasks %v", js.State, states)
			}
			if js.Tasks[0].Attempts != c.attempts || js.Tasks[0].Error == "" {
				t.Errorf("dead task: attempts %d (want %d), error %q", js.Tasks[0].Attempts, c.attempts, js.Tasks[0].Error)
			}
			dlq, err := e.broker.JetStream().Stream(ctx, broker.DLQStream)
			if err != nil {
				t.Fatal(err)
			}
			m, err := dlq.GetLastMsgForSubject(ctx, broker.DLQSubject("diag"))
			if err != nil {
				t.Fatalf("no dead letter: %v", err)
			}
			if m.Header.Get(broker.HdrTask) != "bad" || m.Header.Get(broker.HdrError) == "" || m.Header.Get(broker.HdrAttempts) != fmt.Sprint(c.attempts) {
				t.Errorf("dead-letter headers = %v", m.Header)
			}
			if _, err := broker.DecodeTask(m.Data); err != nil {
				t.Errorf("dead letter does not keep the payload: %v", err)
			}
		})
	}
}

func TestShutdownHandsBackWorkAndARestartedPoolFinishesTheJob(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, broker.Config{})
	var subs []planner.Subtask
	for i := range 24 {
		subs = append(subs, subtask(fmt.Sprintf("s%d", i), "sleep", map[string]string{"duration": "150ms"}))
	}
	var started atomic.Int32
	first := e.startPool(t, workers.Config{MaxAgents: 3, Grace: 20 * time.Millisecond, Name: "first",
		OnStart: func(*broker.Task, string) { started.Add(1) }})
	job := e.submit(t, onePhase(subs...))
	testenv.Eventually(t, 10*time.Second, "some tasks to be running", func() bool { return started.Load() >= 4 })
	first.Shutdown(ctx) // as on SIGTERM: grace is shorter than the tasks
	mid, _ := e.ledger.JobSummary(ctx, job)
	if mid.Succeeded == len(subs) {
		t.Fatal("the job finished before shutdown; the test proves nothing")
	}
	agents, err := workers.ListAgents(ctx, e.rdb, e.ledger.Keys())
	if err != nil || len(agents) != 0 {
		t.Errorf("agents still listed after shutdown: %v %v", agents, err)
	}

	e.startPool(t, workers.Config{MaxAgents: 4, Name: "second"})
	js := e.waitDone(t, job, 30*time.Second)
	if js.State != planner.JobSucceeded || js.Succeeded != len(subs) {
		t.Fatalf("job %s with %d of %d succeeded", js.State, js.Succeeded, len(subs))
	}
	files, _ := e.store.Files(ctx, job)
	if len(files) != len(subs) {
		t.Errorf("%d artifacts, want one per task (%d)", len(files), len(subs))
	}
	s, _ := e.broker.JetStream().Stream(ctx, broker.TasksStream)
	testenv.Eventually(t, 5*time.Second, "ORCH_TASKS to be empty", func() bool {
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs == 0
	})
}

func TestAHostileArtifactIsRefusedNamingTheTask(t *testing.T) {
	cases := []struct {
		name  string
		files [][2]string // producing task, path
		want  []string
	}{
		{"a path traversal", [][2]string{{"evil", "../../etc/passwd"}}, []string{"task evil", "../../etc/passwd"}},
		{"an absolute path", [][2]string{{"evil", "/etc/passwd"}}, []string{"task evil", "/etc/passwd"}},
		{"a conflicting write", [][2]string{{"first", "same.txt"}, {"evil", "same.txt"}}, []string{"task evil", "same.txt", "task first"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, broker.Config{})
			e.skills.Register("diag", "write", func(_ context.Context, r *specialists.Request) (*specialists.Result, error) {
				return &specialists.Result{Files: []artifacts.File{{Path: r.Params["path"], Data: []byte(r.Task)}}}, nil
			})
			e.startPool(t, workers.Config{MaxAgents: 1})
			var subs []planner.Subtask
			var prev []string
			for _, f := range c.files {
				subs = append(subs, subtask(f[0], "write", map[string]string{"path": f[1]}, prev...))
				prev = []string{f[0]}
			}
			job := e.submit(t, onePhase(subs...))
			js := e.waitDone(t, job, 10*time.Second)
			last := js.Tasks[len(js.Tasks)-1]
			if js.State != planner.JobFailed || last.State != planner.StateDead || last.Attempts != 1 {
				t.Fatalf("job %s, task %s %s after %d attempts; want failed, dead at once", js.State, last.ID, last.State, last.Attempts)
			}
			for _, w := range c.want {
				if !strings.Contains(last.Error, w) {
					t.Errorf("error %q does not name %q", last.Error, w)
				}
			}
		})
	}
}

func TestAPanickingSkillFailsItsTaskAndNotTheWorker(t *testing.T) {
	e := newEnv(t, broker.Config{MaxDeliver: 2})
	e.skills.Register("diag", "panic", func(context.Context, *specialists.Request) (*specialists.Result, error) {
		var tasks []string
		return &specialists.Result{Summary: tasks[len(tasks)]}, nil // index out of range: a real runtime panic
	})
	e.startPool(t, workers.Config{MaxAgents: 1})
	job := e.submit(t, onePhase(subtask("p", "panic", nil)))
	js := e.waitDone(t, job, 10*time.Second)
	if js.Tasks[0].State != planner.StateDead || !strings.Contains(js.Tasks[0].Error, "panicked") || !strings.Contains(js.Tasks[0].Error, "goroutine") {
		t.Fatalf("task %s, error %q; want dead with the panic and its stack", js.Tasks[0].State, js.Tasks[0].Error)
	}
	next := e.submit(t, onePhase(subtask("ok", "noop", nil)))
	if js := e.waitDone(t, next, 10*time.Second); js.State != planner.JobSucceeded {
		t.Fatalf("the worker did not survive: next job %s", js.State)
	}
}

func TestHostileMessagesAreDeadLetteredNotRetried(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, broker.Config{})
	e.startPool(t, workers.Config{MaxAgents: 1})
	for _, c := range []struct {
		name, payload, want string
	}{
		{"malformed JSON", "{not json", "bad task message"},
		{"a wrong version", `{"v":99,"job":"j","task":"t","role":"diag","skill":"noop"}`, "version 99"},
		{"an invalid id", `{"v":1,"job":"../etc","task":"t","role":"diag","skill":"noop"}`, "invalid job"},
		{"a job no ledger knows", `{"v":1,"job":"ghost-job","task":"t","role":"wizard","skill":"noop"}`, "in no job's ledger"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := e.broker.JetStream().Publish(ctx, broker.TaskSubject("diag", broker.High), []byte(c.payload)); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, 10*time.Second, "the message in the dead letters", func() bool {
				letters, err := e.broker.DeadLetters(ctx, "", "")
				if err != nil {
					return false
				}
				for _, l := range letters {
					if string(l.Payload) == c.payload && strings.Contains(l.Error, c.want) {
						return true
					}
				}
				return false
			})
		})
	}
	s, _ := e.broker.JetStream().Stream(ctx, broker.TasksStream)
	testenv.Eventually(t, 5*time.Second, "ORCH_TASKS to be empty", func() bool {
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs == 0
	})
	// The pool still works.
	job := e.submit(t, onePhase(subtask("after", "noop", nil)))
	if js := e.waitDone(t, job, 10*time.Second); js.State != planner.JobSucceeded {
		t.Errorf("a job after the hostile messages: %s", js.State)
	}
}

func TestAgentsAreListedWhileThePoolRuns(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, broker.Config{})
	p := e.startPool(t, workers.Config{MaxAgents: 3, Name: "w1"})
	agents, err := workers.ListAgents(ctx, e.rdb, e.ledger.Keys())
	if err != nil {
		t.Fatal(err)
	}
	if len(agents) != 3 || agents[0].ID != "w1-a1" || !agents[0].Idle() || agents[0].Roles[0] != "diag" {
		t.Fatalf("agents = %+v", agents)
	}
	p.Shutdown(ctx)
	agents, _ = workers.ListAgents(ctx, e.rdb, e.ledger.Keys())
	if len(agents) != 0 {
		t.Errorf("agents after shutdown = %+v", agents)
	}
}

func TestAnInvalidPlanIsRefusedBeforeAnythingIsWritten(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, broker.Config{})
	cases := []struct {
		name string
		plan *planner.Plan
		want string
	}{
		{"a cyclic plan", onePhase(subtask("a", "noop", nil, "b"), subtask("b", "noop", nil, "a")), "dependency cycle: a -> b -> a"},
		{"an unknown role", onePhase(planner.Subtask{ID: "x", Role: "wizard", Skill: "noop"}), `subtask x: unknown role "wizard"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := (&planner.Submitter{Ledger: e.ledger, Broker: e.broker, Skills: e.skills}).Submit(ctx, c.plan)
			if !errors.Is(err, planner.ErrInvalidPlan) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want an invalid plan naming %q", err, c.want)
			}
			if n, _ := e.rdb.DBSize(ctx).Result(); n != 0 {
				t.Errorf("%d keys written for a refused plan", n)
			}
			s, _ := e.broker.JetStream().Stream(ctx, broker.TasksStream)
			if info, _ := s.Info(ctx); info.State.Msgs != 0 {
				t.Errorf("%d tasks published for a refused plan", info.State.Msgs)
			}
		})
	}
}

func TestALongTaskIsClaimedAndShownAsRunning(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, broker.Config{})
	e.startPool(t, workers.Config{MaxAgents: 1, Name: "w"})
	job := e.submit(t, onePhase(subtask("long", "sleep", map[string]string{"duration": "1s"})))
	testenv.Eventually(t, 5*time.Second, "the ledger to show the task running on its agent", func() bool {
		js, err := e.ledger.Job(ctx, job)
		return err == nil && js.Tasks[0].State == planner.StateRunning && js.Tasks[0].Worker == "w-a1"
	})
	// The registry is written apart from the ledger's claim, so it may
	// lag it by a moment.
	var agents []workers.AgentInfo
	testenv.Eventually(t, 5*time.Second, "the registry to show the running task", func() bool {
		agents, _ = workers.ListAgents(ctx, e.rdb, e.ledger.Keys())
		return len(agents) == 1 && agents[0].Task == "long" && agents[0].Job == job
	})
	if js := e.waitDone(t, job, 10*time.Second); js.State != planner.JobSucceeded || js.Tasks[0].Attempts != 1 {
		t.Fatalf("job %s, attempts %d", js.State, js.Tasks[0].Attempts)
	}
}

func TestAnExecutionWhoseClaimFindsAnotherAgentsLeaseIsAbandoned(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, broker.Config{AckWait: 1500 * time.Millisecond})
	var runs atomic.Int32
	intruder := make(chan error, 1)
	e.startPool(t, workers.Config{MaxAgents: 1, OnStart: func(task *broker.Task, _ string) {
		if runs.Add(1) == 1 {
			// Another agent (a redelivery elsewhere) claims the task
			// before this execution's own claim, briefly.
			r, err := e.ledger.Claim(ctx, task, "intruder", 500*time.Millisecond, 1)
			if err == nil && !r.Run() {
				err = fmt.Errorf("claim refused: %+v", r)
			}
			intruder <- err
		}
	}})
	job := e.submit(t, onePhase(subtask("contested", "sleep", map[string]string{"duration": "600ms"})))
	js := e.waitDone(t, job, 15*time.Second)
	if err := <-intruder; err != nil {
		t.Fatalf("intruder claim: %v", err)
	}
	if js.State != planner.JobSucceeded || runs.Load() != 2 {
		t.Fatalf("job %s after %d executions; want success after the abandoned one was redelivered", js.State, runs.Load())
	}
	evs := e.events(t, job, func(evs []broker.Event) bool { return count(evs, broker.EventSucceeded) == 1 })
	if n := count(evs, broker.EventRunning); n != 2 {
		t.Errorf("%d running events, want 2", n)
	}
}

// A job larger than one write of the ledger: the dependents of a root that
// finishes at once must be in the ledger before it completes.
func TestALargeFanOutReleasesEveryDependent(t *testing.T) {
	e := newEnv(t, broker.Config{})
	e.startPool(t, workers.Config{MaxAgents: 8})
	subs := []planner.Subtask{subtask("root", "noop", nil)}
	for i := range 2000 {
		subs = append(subs, subtask(fmt.Sprintf("d%d", i), "noop", nil, "root"))
	}
	js := e.waitDone(t, e.submit(t, onePhase(subs...)), 30*time.Second)
	if js.State != planner.JobSucceeded || js.Succeeded != len(subs) {
		t.Fatalf("job %s with %d of %d succeeded", js.State, js.Succeeded, len(subs))
	}
	if js.Tasks[0].ID != "root" || js.Tasks[len(subs)-1].ID != "d1999" {
		t.Errorf("tasks not listed in plan order: first %s, last %s", js.Tasks[0].ID, js.Tasks[len(subs)-1].ID)
	}
}
