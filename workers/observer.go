package workers

import "time"

// The outcomes of an execution, as an Observer hears them.
const (
	OutcomeSucceeded   = "succeeded"
	OutcomeRetried     = "retried"
	OutcomeDead        = "dead"
	OutcomeInterrupted = "interrupted" // handed back at shutdown
	OutcomeAbandoned   = "abandoned"   // another agent's lease won
)

// Observer learns what a pool's agents do, for metrics. Its methods are
// called from the agents' goroutines and must not block.
type Observer interface {
	// TaskStarted is called when an agent starts executing a task.
	TaskStarted(role, skill string)
	// TaskEnded is called once for every TaskStarted, with the outcome
	// and the time since the start.
	TaskEnded(role, skill, outcome string, d time.Duration)
	// ArtifactBytes reports the bytes a succeeded task recorded.
	ArtifactBytes(role string, n int)
	// TaskPickedUp reports how long a delivery waited, from its
	// publication (or redelivery) to an agent taking it.
	TaskPickedUp(role string, wait time.Duration)
	// ServerError counts a failed call to a server: "nats" or "redis".
	ServerError(server string)
}

// noObserver is the Observer of a pool that has none.
type noObserver struct{}

func (noObserver) TaskStarted(string, string)                      {}
func (noObserver) TaskEnded(string, string, string, time.Duration) {}
func (noObserver) ArtifactBytes(string, int)                       {}
func (noObserver) TaskPickedUp(string, time.Duration)              {}
func (noObserver) ServerError(string)                              {}
