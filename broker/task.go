package broker

import (
	"encoding/json"
	"fmt"
	"time"
)

// Priority orders tasks of one role: workers take high before normal
// before low, with a guard against starving the lower ones.
type Priority string

// The three priorities, highest first.
const (
	High   Priority = "high"
	Normal Priority = "normal"
	Low    Priority = "low"
)

// Priorities lists the priorities from highest to lowest.
var Priorities = []Priority{High, Normal, Low}

// ParsePriority accepts high, normal or low; empty means normal.
func ParsePriority(s string) (Priority, error) {
	switch Priority(s) {
	case High, Normal, Low:
		return Priority(s), nil
	case "":
		return Normal, nil
	}
	return "", fmt.Errorf("unknown priority %q (want high, normal or low)", s)
}

// TaskVersion is the version of the task message format.
const TaskVersion = 1

// Task is the message a worker receives. Artifacts never travel in it: it
// names the upstream tasks whose artifacts the worker reads from the store.
type Task struct {
	Version      int               `json:"v"`
	Job          string            `json:"job"`
	ID           string            `json:"task"`
	Role         string            `json:"role"`
	Skill        string            `json:"skill"`
	Title        string            `json:"title,omitempty"`
	Instructions string            `json:"instructions,omitempty"`
	Params       map[string]string `json:"params,omitempty"`
	Inputs       []string          `json:"inputs,omitempty"`
	Priority     Priority          `json:"priority"`
	// Generation increases each time the task is put back after it died, so
	// that a replay is not dropped as a duplicate publish.
	Generation int `json:"gen"`
	// Timeout bounds one execution; zero means the worker's default.
	Timeout time.Duration `json:"timeout,omitempty"`

	// wire is the encoded form, kept because a task is written to the
	// ledger and published, and released dependents are republished from
	// the ledger's bytes. A task must not change once encoded.
	wire []byte
}

// MsgID is the JetStream de-duplication id of this publication.
func (t *Task) MsgID() string { return fmt.Sprintf("%s.%s.%d", t.Job, t.ID, t.Generation) }

// ValidID reports whether s can name a job, task or role: 1 to 128
// letters, digits, '-' or '_', starting with a letter or digit, so that it
// is usable as a subject token and a key part. Every delivered message is
// checked, so this is a loop rather than a regular expression.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

// Encode returns the wire form of t.
func (t *Task) Encode() ([]byte, error) {
	if t.wire != nil {
		return t.wire, nil
	}
	t.Version = TaskVersion
	data, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	t.wire = data
	return data, nil
}

// DecodeTask parses and checks a task message. Its errors wrap
// ErrBadMessage: such a message can never succeed.
func DecodeTask(data []byte) (*Task, error) {
	var t Task
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if t.Version != TaskVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadMessage, t.Version, TaskVersion)
	}
	for name, v := range map[string]string{"job": t.Job, "task": t.ID, "role": t.Role} {
		if !ValidID(v) {
			return nil, fmt.Errorf("%w: invalid %s %q", ErrBadMessage, name, v)
		}
	}
	if t.Skill == "" {
		return nil, fmt.Errorf("%w: task %s has no skill", ErrBadMessage, t.ID)
	}
	if _, err := ParsePriority(string(t.Priority)); err != nil {
		return nil, fmt.Errorf("%w: task %s: %v", ErrBadMessage, t.ID, err)
	}
	t.wire = data
	return &t, nil
}

// AtGeneration returns a copy of t at generation gen: the task put back
// after it died, with its own de-duplication id and wire form.
func (t *Task) AtGeneration(gen int) *Task {
	c := *t
	c.Generation, c.wire = gen, nil
	return &c
}
