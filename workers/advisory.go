package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/planner"
)

// maxDeliveriesSubject is where JetStream announces a message of
// ORCH_TASKS that used up its deliveries without being acknowledged or
// terminated: its last worker died (or stopped) before it could record
// the failure.
const maxDeliveriesSubject = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + broker.TasksStream + ".*"

// advisoryQueue makes one pool in the cluster take each advisory.
const advisoryQueue = "orch-max-deliveries"

// maxDeliveries is the advisory's payload.
type maxDeliveries struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries int    `json:"deliveries"`
}

// watchMaxDeliveries subscribes to JetStream's MAX_DELIVERIES advisories,
// so that such a task still reaches the dead letters and its job fails
// instead of waiting for ever.
func (p *Pool) watchMaxDeliveries() (*nats.Subscription, error) {
	return p.deps.Broker.Conn().QueueSubscribe(maxDeliveriesSubject, advisoryQueue, func(m *nats.Msg) {
		var adv maxDeliveries
		if err := json.Unmarshal(m.Data, &adv); err != nil {
			p.log.Warn("max deliveries advisory", zap.Error(err))
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.deadLetterExhausted(ctx, adv); err != nil {
			p.log.Warn("dead-letter an exhausted task", zap.Uint64("seq", adv.StreamSeq), zap.Error(err))
		}
	})
}

// deadLetterExhausted does for an exhausted message what its worker
// would have done: the dead letter, the ledger's dead state with blocked
// dependents and the events; then it deletes the message, which no
// consumer will deliver again.
func (p *Pool) deadLetterExhausted(ctx context.Context, adv maxDeliveries) error {
	s, err := p.deps.Broker.JetStream().Stream(ctx, broker.TasksStream)
	if err != nil {
		return err
	}
	raw, err := s.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // acknowledged or removed meanwhile
	}
	if err != nil {
		return err
	}
	errText := fmt.Sprintf("delivered %d times without an outcome: its workers stopped or died while running it", adv.Deliveries)
	t, err := broker.DecodeTask(raw.Data)
	if err != nil {
		if err := p.deps.Broker.DeadLetter(ctx, "unknown", raw.Data, "", "", err.Error(), "", adv.Deliveries); err != nil {
			return err
		}
		return s.DeleteMsg(ctx, adv.StreamSeq)
	}
	check, err := p.deps.Ledger.Check(ctx, t, "")
	if err != nil {
		return err
	}
	if check.Verdict == planner.StateSucceeded || check.Verdict == planner.StateDead || check.Verdict == "stale" {
		return s.DeleteMsg(ctx, adv.StreamSeq)
	}
	// The ledger counts the attempts that started; a task whose last
	// worker still holds a lease reports none, and its deliveries stand in.
	attempts := adv.Deliveries
	if check.Run() {
		attempts = check.Attempts - 1
	}
	if err := p.deps.Broker.DeadLetter(ctx, t.Role, raw.Data, t.Job, t.ID, errText, "", attempts); err != nil {
		return err
	}
	dead, err := p.deps.Ledger.Dead(ctx, t.Job, t.ID, errText, planner.Run{Attempts: attempts, Started: time.Now(), Generation: t.Generation})
	if err != nil {
		return err
	}
	p.event(broker.Event{Job: t.Job, Task: t.ID, Role: t.Role, Kind: broker.EventDead, Attempt: attempts, Error: errText})
	for _, b := range dead.Blocked {
		p.event(broker.Event{Job: t.Job, Task: b, Kind: broker.EventBlocked, Error: "upstream task " + t.ID + " is dead"})
	}
	if dead.JobFailed {
		p.event(broker.Event{Job: t.Job, Kind: broker.EventJobFailed, Error: fmt.Sprintf("task %s: %s", t.ID, errText)})
	}
	return s.DeleteMsg(ctx, adv.StreamSeq)
}
