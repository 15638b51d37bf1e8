// Package specialists owns the roles of the system and the skills each
// role can perform. A worker looks up a task's role and skill here and
// runs it; what it returns becomes the task's artifacts.
package specialists

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/orchestrate-dev/orchestrate/artifacts"
)

// The roles of our users' examples, plus the collector and the diagnostic
// role used by tests and benchmarks.
const (
	RoleMLArchitect    = "ml-systems-architect"
	RoleDataPipeline   = "data-pipeline-engineer"
	RoleDataScience    = "data-science-analyst"
	RoleCloudArchitect = "aws-cloud-architect"
	RoleBackend        = "backend-systems-engineer"
	RoleCollector      = "collector"
	RoleDiag           = "diag"
)

// SkillFreeForm is the skill of a subtask that names no builtin skill: its
// title and instructions say what to do. Only roles with an llm or exec
// executor have it.
const SkillFreeForm = "free-form"

// Artifacts gives a skill read access to what the job has produced so far,
// and to the blobs its inputs were stored as.
type Artifacts interface {
	// Files lists the job's artifacts sorted by path.
	Files(ctx context.Context, job string) ([]artifacts.Entry, error)
	// Read returns the content of one of the job's artifacts.
	Read(ctx context.Context, job, path string) ([]byte, error)
	// Blob returns the content stored under a SHA-256 digest, for inputs
	// that are not the job's artifacts (a job's training data).
	Blob(ctx context.Context, digest string) ([]byte, error)
}

// Request is one execution of a skill.
type Request struct {
	Job          string
	Task         string
	Role         string
	Skill        string
	Title        string
	Instructions string
	Params       map[string]string
	// Inputs are the upstream tasks whose artifacts this task reads.
	Inputs []string
	// Attempt counts deliveries of this task, starting at 1.
	Attempt int
	// ScratchRoot is where Workdir makes its directory; empty means the
	// system's temporary directory.
	ScratchRoot string
	// Artifacts reads the job's artifacts.
	Artifacts Artifacts
	// Env carries settings of the worker that some skills need (for
	// example the Redis URL the collector hands to generated tests).
	Env map[string]string
	// Meter accounts for the model calls of skills that make them; nil
	// means no accounting.
	Meter Meter

	workdir string
}

// Workdir returns a scratch directory private to this execution. It is
// made on first use, because most skills never need one and creating
// directories is slow on some file systems; Cleanup removes it.
func (r *Request) Workdir() (string, error) {
	if r.workdir == "" {
		d, err := os.MkdirTemp(r.ScratchRoot, "orchestrate-task-")
		if err != nil {
			return "", fmt.Errorf("scratch directory for task %s: %w", r.Task, err)
		}
		r.workdir = d
	}
	return r.workdir, nil
}

// Cleanup removes the scratch directory, if Workdir made one.
func (r *Request) Cleanup() error {
	if r.workdir == "" {
		return nil
	}
	err := os.RemoveAll(r.workdir)
	r.workdir = ""
	return err
}

// Result is what a skill produced.
type Result struct {
	Files   []artifacts.File
	Summary string
}

// Skill performs one kind of subtask.
type Skill func(ctx context.Context, req *Request) (*Result, error)

// ErrUnknownRole and ErrUnknownSkill are returned by Lookup.
var (
	ErrUnknownRole  = errors.New("unknown role")
	ErrUnknownSkill = errors.New("unknown skill")
)

// Registry maps roles to their skills. It is safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	roles map[string]map[string]Skill
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{roles: map[string]map[string]Skill{}} }

// Register adds or replaces a skill of a role.
func (r *Registry) Register(role, skill string, fn Skill) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.roles[role] == nil {
		r.roles[role] = map[string]Skill{}
	}
	r.roles[role][skill] = fn
}

// Lookup finds a skill; the error wraps ErrUnknownRole or ErrUnknownSkill
// and lists what is known.
func (r *Registry) Lookup(role, skill string) (Skill, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	skills, ok := r.roles[role]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownRole, role, r.rolesLocked())
	}
	fn, ok := skills[skill]
	if !ok {
		return nil, fmt.Errorf("%w %q for role %s (known: %v)", ErrUnknownSkill, skill, role, sortedKeys(skills))
	}
	return fn, nil
}

// HasRole reports whether role has any skill.
func (r *Registry) HasRole(role string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.roles[role]
	return ok
}

// HasSkill reports whether role has skill.
func (r *Registry) HasSkill(role, skill string) bool {
	_, err := r.Lookup(role, skill)
	return err == nil
}

// Roles lists the registered roles, sorted.
func (r *Registry) Roles() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.rolesLocked()
}

// Skills lists the skills of role, sorted.
func (r *Registry) Skills(role string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return sortedKeys(r.roles[role])
}

func (r *Registry) rolesLocked() []string { return sortedKeys(r.roles) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// permanentError marks a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as a failure that retrying cannot fix (bad input): the
// task goes to the dead-letter stream at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Brief is the subtask as an agent reads it: title, role, skill,
// instructions and params (sorted). It leaves out the job, task and
// attempt, so that the same subtask asked again reads the same.
func (r *Request) Brief() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\nRole: %s. Skill: %s.\n\n%s\n", r.Title, r.Role, r.Skill, r.Instructions)
	if len(r.Params) > 0 {
		b.WriteString("\n## Parameters\n\n")
		keys := make([]string, 0, len(r.Params))
		for k := range r.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "- %s: %s\n", k, r.Params[k])
		}
	}
	return b.String()
}
