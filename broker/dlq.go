package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DeadLetterEntry is one message of ORCH_DLQ: a task that failed for good,
// with why, when, where and after how many attempts.
type DeadLetterEntry struct {
	// ID is the message's sequence in ORCH_DLQ.
	ID       uint64    `json:"id"`
	Role     string    `json:"role"`
	Job      string    `json:"job"`
	Task     string    `json:"task"`
	Error    string    `json:"error"`
	Attempts int       `json:"attempts"`
	Worker   string    `json:"worker"`
	Time     time.Time `json:"time"`
	// Payload is the task message as it was delivered.
	Payload []byte `json:"payload"`
}

// ErrNoDeadLetter is wrapped when a dead letter does not exist.
var ErrNoDeadLetter = errors.New("no such dead letter")

// DeadLetters lists ORCH_DLQ, oldest first. Empty job or role match any.
func (b *Broker) DeadLetters(ctx context.Context, job, role string) ([]DeadLetterEntry, error) {
	s, err := b.js.Stream(ctx, DLQStream)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	var out []DeadLetterEntry
	if info.State.Msgs == 0 {
		return out, nil
	}
	subject := "orch.dlq.>"
	if role != "" {
		subject = DLQSubject(role)
	}
	// The stream is read by sequence: deleted entries leave gaps, and a
	// filtered next-message read skips what does not match.
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("dead letters: read %d: %w", seq, err)
		}
		seq = m.Sequence
		e := deadLetterOf(m)
		if job == "" || e.Job == job {
			out = append(out, e)
		}
	}
	return out, nil
}

// DeadLetterByID returns the dead letter with the id.
func (b *Broker) DeadLetterByID(ctx context.Context, id uint64) (DeadLetterEntry, error) {
	s, err := b.js.Stream(ctx, DLQStream)
	if err != nil {
		return DeadLetterEntry{}, fmt.Errorf("dead letter %d: %w", id, err)
	}
	m, err := s.GetMsg(ctx, id)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetterEntry{}, fmt.Errorf("%w %d", ErrNoDeadLetter, id)
	}
	if err != nil {
		return DeadLetterEntry{}, fmt.Errorf("dead letter %d: %w", id, err)
	}
	return deadLetterOf(m), nil
}

// DeleteDeadLetter removes a dead letter, once its task was replayed.
func (b *Broker) DeleteDeadLetter(ctx context.Context, id uint64) error {
	s, err := b.js.Stream(ctx, DLQStream)
	if err != nil {
		return err
	}
	if err := s.DeleteMsg(ctx, id); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("delete dead letter %d: %w", id, err)
	}
	return nil
}

// PurgeDeadLetters removes every dead letter and returns how many there were.
func (b *Broker) PurgeDeadLetters(ctx context.Context) (uint64, error) {
	s, err := b.js.Stream(ctx, DLQStream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	if err := s.Purge(ctx); err != nil {
		return 0, fmt.Errorf("purge dead letters: %w", err)
	}
	return info.State.Msgs, nil
}

func deadLetterOf(m *jetstream.RawStreamMsg) DeadLetterEntry {
	h := m.Header
	e := DeadLetterEntry{
		ID: m.Sequence, Role: strings.TrimPrefix(m.Subject, "orch.dlq."), Job: h.Get(HdrJob), Task: h.Get(HdrTask),
		Error: h.Get(HdrError), Worker: h.Get(HdrWorker), Payload: m.Data,
	}
	e.Attempts, _ = strconv.Atoi(h.Get(HdrAttempts))
	e.Time, _ = time.Parse(time.RFC3339Nano, h.Get(HdrTime))
	return e
}
