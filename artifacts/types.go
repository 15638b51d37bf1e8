package artifacts

import (
	"errors"
	"fmt"
	"io/fs"
)

// File is an artifact as a specialist produces it: a path in the job's
// tree and its content.
type File struct {
	Path string
	Data []byte
	// Mode holds the permission bits; zero means 0o644.
	Mode fs.FileMode
}

// Entry is an artifact as the index records it.
type Entry struct {
	Path   string      `json:"path"`
	Digest string      `json:"digest"` // hex sha256 of the content
	Size   int64       `json:"size"`
	Mode   fs.FileMode `json:"mode"`
	Task   string      `json:"task"` // the producing task
}

var (
	// ErrInvalidPath: a path is not a clean relative path inside the tree.
	ErrInvalidPath = errors.New("invalid artifact path")
	// ErrConflict: two tasks wrote different content to one path, or two
	// paths differ only in case.
	ErrConflict = errors.New("conflicting artifact")
	// ErrTooLarge: a file exceeds the size limit.
	ErrTooLarge = errors.New("artifact too large")
	// ErrNotFound: no such blob or path.
	ErrNotFound = errors.New("artifact not found")
	// ErrCorrupt: what Redis holds for a blob does not hash to its digest,
	// or a chunked blob lost a chunk.
	ErrCorrupt = errors.New("artifact corrupt")
)

// PathError says which path of which task was refused and why. It wraps
// ErrInvalidPath or ErrTooLarge.
type PathError struct {
	Path   string
	Task   string // empty when validated outside a task
	Reason string
	Err    error
}

func (e *PathError) Error() string {
	if e.Task != "" {
		return fmt.Sprintf("task %s: artifact %q: %s", e.Task, e.Path, e.Reason)
	}
	return fmt.Sprintf("artifact %q: %s", e.Path, e.Reason)
}

func (e *PathError) Unwrap() error { return e.Err }

// ConflictError names both tasks that claim a path. It wraps ErrConflict.
type ConflictError struct {
	Path      string
	Task      string // the task whose write was refused
	OtherPath string // the existing path (differs from Path on case folding)
	OtherTask string // the task that wrote it first
}

func (e *ConflictError) Error() string {
	if e.OtherPath != e.Path {
		return fmt.Sprintf("task %s: artifact %q collides with %q of task %s (paths equal under case folding)", e.Task, e.Path, e.OtherPath, e.OtherTask)
	}
	return fmt.Sprintf("task %s: artifact %q conflicts with task %s, which wrote different content to the same path", e.Task, e.Path, e.OtherTask)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }
