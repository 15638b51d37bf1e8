package broker

import "fmt"

// Stream names.
const (
	TasksStream  = "ORCH_TASKS"
	EventsStream = "ORCH_EVENTS"
	DLQStream    = "ORCH_DLQ"
)

// TaskSubject is the subject of a role's tasks at one priority:
// orch.tasks.<role>.<priority>.
func TaskSubject(role string, p Priority) string { return fmt.Sprintf("orch.tasks.%s.%s", role, p) }

// ConsumerName is the durable pull consumer of a role and priority. The
// Helm chart's autoscaling triggers name consumers with this function's
// rule, so keep them in step.
func ConsumerName(role string, p Priority) string { return fmt.Sprintf("tasks-%s-%s", role, p) }

// EventSubject carries the events of one job, its tasks' and its own, in
// batches (see Broker.PublishEvent).
func EventSubject(job string) string { return "orch.events." + job }

// DLQSubject holds a role's dead tasks.
func DLQSubject(role string) string { return "orch.dlq." + role }
