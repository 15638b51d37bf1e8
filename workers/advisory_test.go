package workers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/workers"
)

// A task whose deliveries all end with its worker gone (fetched, never
// acknowledged) reaches the dead letters through JetStream's
// MAX_DELIVERIES advisory, its job fails, and nothing of it is left on
// the queue.
func TestATaskOutOfDeliveriesStillReachesTheDeadLetters(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, broker.Config{MaxDeliver: 2, AckWait: 300 * time.Millisecond})
	e.skills.Register("ghost", "vanish", func(context.Context, *specialists.Request) (*specialists.Result, error) {
		return &specialists.Result{}, nil
	})
	if err := e.broker.EnsureTopology(ctx, []string{"ghost"}); err != nil {
		t.Fatal(err)
	}
	e.startPool(t, workers.Config{Roles: []string{"diag"}, MaxAgents: 1})
	job := e.submit(t, onePhase(
		planner.Subtask{ID: "ghost", Title: "its worker dies", Role: "ghost", Skill: "vanish"},
		subtask("after", "noop", nil, "ghost"),
	))
	c, err := e.broker.Consumer(ctx, "ghost", broker.Normal)
	if err != nil {
		t.Fatal(err)
	}
	// Two deliveries, each taken by a "worker" that dies holding it.
	for i := range 2 {
		testenv.Eventually(t, 10*time.Second, "a delivery of the ghost task", func() bool {
			b, err := c.FetchNoWait(1)
			if err != nil {
				return false
			}
			for m := range b.Messages() {
				if md, _ := m.Metadata(); md != nil && int(md.NumDelivered) == i+1 {
					return true
				}
			}
			return false
		})
	}
	// JetStream finds a message out of deliveries when it would deliver
	// it again, so a worker of the role keeps asking for work, as live
	// workers do.
	stop, stopped := make(chan struct{}), make(chan struct{})
	defer func() { close(stop); <-stopped }()
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if b, err := c.Fetch(1, jetstream.FetchMaxWait(200*time.Millisecond)); err == nil {
				for m := range b.Messages() {
					t.Errorf("delivery beyond MaxDeliver: %s", m.Subject())
				}
			}
		}
	}()
	js := e.waitDone(t, job, 15*time.Second)
	if js.State != planner.JobFailed {
		t.Fatalf("job %s, want failed", js.State)
	}
	states := map[string]string{}
	for _, tk := range js.Tasks {
		states[tk.ID] = tk.State
	}
	if states["ghost"] != planner.StateDead || states["after"] != planner.StateBlocked {
		t.Errorf("states %v, want ghost dead and after blocked", states)
	}
	letters, err := e.broker.DeadLetters(ctx, job, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 1 || letters[0].Task != "ghost" || !strings.Contains(letters[0].Error, "delivered 2 times without an outcome") {
		t.Errorf("dead letters %+v", letters)
	}
	s, err := e.broker.JetStream().Stream(ctx, broker.TasksStream)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "the exhausted message to leave ORCH_TASKS", func() bool {
		info, err := s.Info(ctx, jetstream.WithSubjectFilter("orch.tasks.ghost.>"))
		return err == nil && info.State.Msgs == 0
	})
}
