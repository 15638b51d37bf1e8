// Package keys builds every Redis key the system uses, so that the layout
// lives in one place. A job's keys share the hash tag {<job>} so that the
// Lua scripts touching several of them run on Redis Cluster.
package keys

// DefaultPrefix is the key prefix when none is configured.
const DefaultPrefix = "orch:"

// Space builds keys under one prefix.
type Space struct{ Prefix string }

// New returns a key space; an empty prefix means DefaultPrefix.
func New(prefix string) Space {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return Space{Prefix: prefix}
}

// JobBase is the common start of all keys of a job: "<prefix>{<job>}:".
func (s Space) JobBase(job string) string { return s.Prefix + "{" + job + "}:" }

// Job is the hash holding a job's goal, plan, state, timestamps and counts.
func (s Space) Job(job string) string { return s.JobBase(job) + "job" }

// JobPlan holds the plan a job was created from, as JSON. It is kept out of
// the job hash so that status reads stay small for large plans.
func (s Space) JobPlan(job string) string { return s.JobBase(job) + "plan" }

// Tasks is the list of a job's task ids in plan order.
func (s Space) Tasks(job string) string { return s.JobBase(job) + "tasks" }

// Task is the hash of one task's state.
func (s Space) Task(job, task string) string { return s.JobBase(job) + "task:" + task }

// Files is the hash of a job's artifacts: case-folded path → entry (which
// holds the path as written), so that paths equal under case folding meet
// in one field.
func (s Space) Files(job string) string { return s.JobBase(job) + "files" }

// Jobs is the sorted set of job ids by creation time (unix ms).
func (s Space) Jobs() string { return s.Prefix + "jobs" }

// Blob holds the bytes of a blob stored whole.
func (s Space) Blob(digest string) string { return s.Prefix + "blob:" + digest }

// Chunks lists the chunk digests of a blob stored in parts.
func (s Space) Chunks(digest string) string { return s.Prefix + "chunks:" + digest }

// Agent is the hash describing one live agent; it expires unless refreshed.
func (s Space) Agent(id string) string { return s.Prefix + "agent:" + id }

// Agents is the sorted set of agent ids scored by heartbeat expiry (unix ms).
func (s Space) Agents() string { return s.Prefix + "agents" }

// Plan holds a saved plan by name.
func (s Space) Plan(name string) string { return s.Prefix + "plan:" + name }

// Plans is the set of saved plans' names.
func (s Space) Plans() string { return s.Prefix + "plans" }
