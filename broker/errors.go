package broker

import "errors"

var (
	// ErrBadMessage: a task message that cannot be decoded or checked; it
	// is dead-lettered at once.
	ErrBadMessage = errors.New("bad task message")
	// ErrUnreachable: the NATS server could not be reached in time.
	ErrUnreachable = errors.New("cannot reach NATS")
)
