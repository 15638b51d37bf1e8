package broker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
)

func newBroker(t *testing.T, n *testenv.NATS, cfg broker.Config) *broker.Broker {
	t.Helper()
	b, err := broker.New(n.Connect(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnsureTopologyIsIdempotentAndAppliesChangedSettings(t *testing.T) {
	ctx := context.Background()
	n := testenv.StartNATS(t)
	b := newBroker(t, n, broker.Config{MaxDeliver: 3})
	for range 2 {
		if err := b.EnsureTopology(ctx, []string{"diag", "collector"}); err != nil {
			t.Fatalf("EnsureTopology: %v", err)
		}
	}
	js := b.JetStream()
	s, err := js.Stream(ctx, broker.TasksStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.Retention; got != jetstream.WorkQueuePolicy {
		t.Errorf("tasks retention = %v, want work queue", got)
	}
	names := map[string]bool{}
	for name := range s.ConsumerNames(ctx).Name() {
		names[name] = true
	}
	for _, role := range []string{"diag", "collector"} {
		for _, p := range broker.Priorities {
			if !names[broker.ConsumerName(role, p)] {
				t.Errorf("consumer %s missing (have %v)", broker.ConsumerName(role, p), names)
			}
		}
	}
	for _, st := range []string{broker.EventsStream, broker.DLQStream} {
		if _, err := js.Stream(ctx, st); err != nil {
			t.Errorf("stream %s: %v", st, err)
		}
	}

	changed := newBroker(t, n, broker.Config{MaxDeliver: 7})
	if err := changed.EnsureTopology(ctx, []string{"diag"}); err != nil {
		t.Fatalf("EnsureTopology with a changed setting: %v", err)
	}
	c, err := js.Consumer(ctx, broker.TasksStream, broker.ConsumerName("diag", broker.High))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CachedInfo().Config.MaxDeliver; got != 7 {
		t.Errorf("MaxDeliver after update = %d, want 7", got)
	}
}

func TestPublishTasksDropsDuplicatePublications(t *testing.T) {
	ctx := context.Background()
	n := testenv.StartNATS(t)
	b := newBroker(t, n, broker.Config{})
	if err := b.EnsureTopology(ctx, []string{"diag"}); err != nil {
		t.Fatal(err)
	}
	task := &broker.Task{Job: "j", ID: "t1", Role: "diag", Skill: "noop", Priority: broker.Normal}
	for range 3 {
		if err := b.PublishTasks(ctx, []*broker.Task{task}); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := b.JetStream().Stream(ctx, broker.TasksStream)
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages, want 1", info.State.Msgs)
	}
	task.Generation = 1
	if err := b.PublishTasks(ctx, []*broker.Task{task}); err != nil {
		t.Fatal(err)
	}
	info, _ = s.Info(ctx)
	if info.State.Msgs != 2 {
		t.Errorf("a new generation was dropped: %d messages, want 2", info.State.Msgs)
	}
}

func TestEventsAreReadBackInOrder(t *testing.T) {
	ctx := context.Background()
	n := testenv.StartNATS(t)
	b := newBroker(t, n, broker.Config{})
	if err := b.EnsureTopology(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{broker.EventQueued, broker.EventRunning, broker.EventSucceeded} {
		if err := b.PublishEvent(broker.Event{Job: "j1", Task: "a", Kind: k}); err != nil {
			t.Fatal(err)
		}
	}
	_ = b.PublishEvent(broker.Event{Job: "other", Task: "a", Kind: broker.EventRunning})
	if err := b.PublishEvent(broker.Event{Job: "j1", Kind: broker.EventJobSucceeded}); err != nil {
		t.Fatal(err)
	}
	if err := b.FlushEvents(); err != nil {
		t.Fatal(err)
	}
	<-b.JetStream().PublishAsyncComplete()
	evs, err := b.Events(ctx, "j1")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, ","); got != "queued,running,succeeded,job-succeeded" {
		t.Errorf("events = %s", got)
	}
}

func TestEventsOfABusyJobAreStoredInBatches(t *testing.T) {
	ctx := context.Background()
	n := testenv.StartNATS(t)
	b := newBroker(t, n, broker.Config{})
	if err := b.EnsureTopology(ctx, nil); err != nil {
		t.Fatal(err)
	}
	const total = 1000
	for i := range total {
		if err := b.PublishEvent(broker.Event{Job: "busy", Task: fmt.Sprint(i), Kind: broker.EventRunning}); err != nil {
			t.Fatal(err)
		}
	}
	var evs []broker.Event
	testenv.Eventually(t, 5*time.Second, "all events to be stored", func() bool {
		var err error
		evs, err = b.Events(ctx, "busy")
		return err == nil && len(evs) == total
	})
	for i, e := range evs {
		if e.Task != fmt.Sprint(i) {
			t.Fatalf("event %d is of task %s: order lost", i, e.Task)
		}
	}
	s, _ := b.JetStream().Stream(ctx, broker.EventsStream)
	info, _ := s.Info(ctx)
	if info.State.Msgs > total/100 {
		t.Errorf("%d events took %d messages; want batches", total, info.State.Msgs)
	}
}

func TestConnectToAnUnreachableServerNamesTheURLQuickly(t *testing.T) {
	start := time.Now()
	_, err := broker.Connect(context.Background(), "nats://user:secret@127.0.0.1:1", "test")
	if !errors.Is(err, broker.ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error %q does not name the server", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows the password", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s, want under 10s", d)
	}
}

func TestMaxDeliverPerRole(t *testing.T) {
	n := testenv.StartNATS(t)
	b, err := broker.New(n.Connect(t), broker.Config{MaxDeliver: 4, RoleMaxDeliver: map[string]int{"slow": 2}})
	if err != nil {
		t.Fatal(err)
	}
	if b.MaxDeliver("slow") != 2 || b.MaxDeliver("fast") != 4 {
		t.Errorf("max deliver: slow %d, fast %d", b.MaxDeliver("slow"), b.MaxDeliver("fast"))
	}
	ctx := context.Background()
	if err := b.EnsureTopology(ctx, []string{"slow", "fast"}); err != nil {
		t.Fatal(err)
	}
	for role, want := range map[string]int{"slow": 2, "fast": 4} {
		c, err := b.Consumer(ctx, role, broker.Normal)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.CachedInfo().Config.MaxDeliver; got != want {
			t.Errorf("consumer of %s: MaxDeliver %d, want %d", role, got, want)
		}
	}
}
