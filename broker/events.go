package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Event kinds of tasks and jobs.
const (
	EventQueued       = "queued"
	EventRunning      = "running"
	EventSucceeded    = "succeeded"
	EventRetrying     = "retrying"
	EventDead         = "dead"
	EventBlocked      = "blocked"
	EventSkipped      = "skipped" // a redelivery of a task already done
	EventJobCreated   = "job-created"
	EventJobSucceeded = "job-succeeded"
	EventJobFailed    = "job-failed"
)

// Event is one state change. Task is empty for job events.
type Event struct {
	Time    time.Time `json:"time"`
	Job     string    `json:"job"`
	Task    string    `json:"task,omitempty"`
	Kind    string    `json:"kind"`
	Role    string    `json:"role,omitempty"`
	Worker  string    `json:"worker,omitempty"`
	Attempt int       `json:"attempt,omitempty"`
	Error   string    `json:"error,omitempty"`
	Summary string    `json:"summary,omitempty"`
}

// Events are batched: PublishEvent appends to a per-job buffer that is
// published as one message, a JSON array, when it holds eventBatch events or
// at the latest eventFlush after its first event. A busy job's events then
// cost JetStream one stored message per batch instead of one per state
// change. The ledger, not the event stream, is the record of state; a crash
// loses at most the events of the last few milliseconds.
const (
	eventBatch = 256
	eventFlush = 2 * time.Millisecond
)

// events buffers the events of each job until they are published.
type events struct {
	mu      sync.Mutex
	pending map[string][]Event
	timer   *time.Timer
	closed  bool
}

// PublishEvent queues e for publication without waiting; Flush and Close
// publish what is queued.
func (b *Broker) PublishEvent(e Event) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	ev := &b.events
	ev.mu.Lock()
	if ev.closed {
		ev.mu.Unlock()
		return fmt.Errorf("publish event %s of job %s: broker closed", e.Kind, e.Job)
	}
	if ev.pending == nil {
		ev.pending = map[string][]Event{}
	}
	batch := append(ev.pending[e.Job], e)
	if len(batch) >= eventBatch {
		delete(ev.pending, e.Job)
		ev.mu.Unlock()
		return b.publishEvents(e.Job, batch)
	}
	ev.pending[e.Job] = batch
	if ev.timer == nil {
		ev.timer = time.AfterFunc(eventFlush, func() { _ = b.FlushEvents() })
	}
	ev.mu.Unlock()
	return nil
}

// FlushEvents publishes every queued event without waiting for JetStream's
// acks.
func (b *Broker) FlushEvents() error {
	ev := &b.events
	ev.mu.Lock()
	pending := ev.pending
	ev.pending = nil
	if ev.timer != nil {
		ev.timer.Stop()
		ev.timer = nil
	}
	ev.mu.Unlock()
	var first error
	for job, batch := range pending {
		if err := b.publishEvents(job, batch); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (b *Broker) publishEvents(job string, batch []Event) error {
	data, err := json.Marshal(batch)
	if err != nil {
		return fmt.Errorf("encode events of job %s: %w", job, err)
	}
	if _, err := b.js.PublishAsync(EventSubject(job), data); err != nil {
		return fmt.Errorf("publish %d events of job %s: %w", len(batch), job, err)
	}
	return nil
}

// decodeEvents reads one stored batch.
func decodeEvents(data []byte) []Event {
	var batch []Event
	if err := json.Unmarshal(data, &batch); err != nil {
		return nil // not ours to judge; readers skip what they cannot read
	}
	return batch
}

// Watch delivers every event of a job, from the first, to fn until ctx is
// done or fn returns false. It uses an ordered consumer, so nothing is
// left behind on the server.
func (b *Broker) Watch(ctx context.Context, job string, fn func(Event) bool) error {
	c, err := b.js.OrderedConsumer(ctx, EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{EventSubject(job)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("watch job %s: %w", job, err)
	}
	it, err := c.Messages()
	if err != nil {
		return fmt.Errorf("watch job %s: %w", job, err)
	}
	defer it.Stop()
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("watch job %s: %w", job, err)
		}
		for _, e := range decodeEvents(m.Data()) {
			if !fn(e) {
				return nil
			}
		}
	}
}

// Events returns every stored event of a job in order.
func (b *Broker) Events(ctx context.Context, job string) ([]Event, error) {
	c, err := b.js.OrderedConsumer(ctx, EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{EventSubject(job)},
	})
	if err != nil {
		return nil, fmt.Errorf("read events of job %s: %w", job, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read events of job %s: %w", job, err)
	}
	pending := int(info.NumPending)
	var out []Event
	for got := 0; got < pending; {
		batch, err := c.Fetch(min(pending-got, 1000), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read events of job %s: %w", job, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			out = append(out, decodeEvents(m.Data())...)
		}
		if batch.Error() != nil {
			return nil, fmt.Errorf("read events of job %s: %w", job, batch.Error())
		}
		if n == 0 {
			break
		}
		got += n
	}
	return out, nil
}

// Dead-letter headers.
const (
	HdrError    = "Orch-Error"
	HdrAttempts = "Orch-Attempts"
	HdrWorker   = "Orch-Worker"
	HdrTime     = "Orch-Time"
	HdrJob      = "Orch-Job"
	HdrTask     = "Orch-Task"
)

// DeadLetter stores a failed task's payload in ORCH_DLQ with the failure
// in headers, and waits for JetStream to confirm it.
func (b *Broker) DeadLetter(ctx context.Context, role string, payload []byte, job, task, errText, worker string, attempts int) error {
	if !ValidID(role) {
		role = "unknown"
	}
	msg := &nats.Msg{
		Subject: DLQSubject(role),
		Data:    payload,
		Header: nats.Header{
			HdrError:    []string{errText},
			HdrAttempts: []string{fmt.Sprint(attempts)},
			HdrWorker:   []string{worker},
			HdrTime:     []string{time.Now().UTC().Format(time.RFC3339Nano)},
			HdrJob:      []string{job},
			HdrTask:     []string{task},
		},
	}
	if _, err := b.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("dead-letter task %s of job %s: %w", task, job, err)
	}
	return nil
}
