package broker

import (
	"context"
	"encoding/json"
	"fmt"
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

// PublishEvent publishes e without waiting for JetStream's ack, so that
// events cost the hot path almost nothing; Close waits for the stragglers.
func (b *Broker) PublishEvent(e Event) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	subj := JobEventSubject(e.Job)
	if e.Task != "" {
		subj = TaskEventSubject(e.Job, e.Task)
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if _, err := b.js.PublishAsync(subj, data); err != nil {
		return fmt.Errorf("publish event %s of job %s: %w", e.Kind, e.Job, err)
	}
	return nil
}

// Watch delivers every event of a job, from the first, to fn until ctx is
// done or fn returns false. It uses an ordered consumer, so nothing is
// left behind on the server.
func (b *Broker) Watch(ctx context.Context, job string, fn func(Event) bool) error {
	c, err := b.js.OrderedConsumer(ctx, EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{JobEventsFilter(job)},
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
		var e Event
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			continue // not ours to judge; watchers skip what they cannot read
		}
		if !fn(e) {
			return nil
		}
	}
}

// Events returns every stored event of a job in order.
func (b *Broker) Events(ctx context.Context, job string) ([]Event, error) {
	c, err := b.js.OrderedConsumer(ctx, EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{JobEventsFilter(job)},
	})
	if err != nil {
		return nil, fmt.Errorf("read events of job %s: %w", job, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read events of job %s: %w", job, err)
	}
	pending := int(info.NumPending)
	out := make([]Event, 0, pending)
	for got := 0; got < pending; {
		batch, err := c.Fetch(min(pending-got, 1000), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read events of job %s: %w", job, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var e Event
			if err := json.Unmarshal(m.Data(), &e); err == nil {
				out = append(out, e)
			}
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
