package collector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/orchestrate-dev/orchestrate/artifacts"
)

// Source is what the collector reads a job's tree from; *artifacts.Store
// satisfies it.
type Source interface {
	// Files lists the job's artifacts sorted by path.
	Files(ctx context.Context, job string) ([]artifacts.Entry, error)
	// Blob returns the content whose hex sha256 is digest; the error wraps
	// artifacts.ErrNotFound when there is none.
	Blob(ctx context.Context, digest string) ([]byte, error)
}

// Tree describes an assembled job tree.
type Tree struct {
	Dir   string // absolute path of the tree's root
	Files int    // number of files written
	Bytes int64  // their total size
}

// defaultMode applies to entries recorded without permission bits.
const defaultMode fs.FileMode = 0o644

// Assemble writes every artifact of job into dir, which must not exist or
// be an empty directory (else the error wraps ErrOutputExists); its parents
// are created as needed. Errors about dir name it.
//
// The index is checked again before anything is written, because the tree
// is what gets built and shipped: every path must pass
// artifacts.ValidatePath, no two paths may be equal under case folding
// (the tree must check out on macOS and Windows), and no path may be both a
// file and a directory. Errors name both paths and both producing tasks and
// wrap artifacts.ErrConflict (case folding: an *artifacts.ConflictError).
// Each blob must match the digest and size of its entry, or the error wraps
// artifacts.ErrCorrupt and names the path and task.
//
// The tree is written into a temporary sibling of dir and renamed into place
// only when complete, so a failure leaves neither dir nor the temporary
// directory behind.
func Assemble(ctx context.Context, src Source, job, dir string) (*Tree, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("assemble job %s into %s: %w", job, dir, err)
	}
	entries, err := src.Files(ctx, job)
	if err != nil {
		return nil, fmt.Errorf("assemble job %s: list artifacts: %w", job, err)
	}
	if err := checkEntries(entries); err != nil {
		return nil, fmt.Errorf("assemble job %s: %w", job, err)
	}
	existing, err := checkTarget(abs)
	if err != nil {
		return nil, fmt.Errorf("assemble job %s into %s: %w", job, dir, err)
	}
	parent := filepath.Dir(abs)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("assemble job %s into %s: create parent: %w", job, dir, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(abs)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("assemble job %s into %s: %w", job, dir, err)
	}
	tree, err := writeTree(ctx, src, entries, tmp)
	if err == nil {
		err = install(tmp, abs, existing)
	}
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, fmt.Errorf("assemble job %s into %s: %w", job, dir, err)
	}
	tree.Dir = abs
	return tree, nil
}

// checkEntries refuses an index that cannot become a portable tree. It
// runs before any blob is read so that a bad index costs no I/O.
func checkEntries(entries []artifacts.Entry) error {
	byFolded := make(map[string]artifacts.Entry, len(entries))
	for _, e := range entries {
		if err := validatePath(e); err != nil {
			return err
		}
		key := fold(e.Path)
		if other, ok := byFolded[key]; ok {
			return &artifacts.ConflictError{Path: e.Path, Task: e.Task, OtherPath: other.Path, OtherTask: other.Task}
		}
		byFolded[key] = e
	}
	for _, e := range entries {
		for d := path.Dir(e.Path); d != "." && d != "/"; d = path.Dir(d) {
			if file, ok := byFolded[fold(d)]; ok {
				return fmt.Errorf("%w: artifact %q of task %s is a file, but task %s writes %q inside it",
					artifacts.ErrConflict, file.Path, file.Task, e.Task, e.Path)
			}
		}
	}
	return nil
}

// fold maps paths that a case-insensitive file system treats as one name
// to one key, the way the store folds them: upper then lower case catches
// what both NTFS's table and plain lower-casing equate ("ſ" and "s").
func fold(p string) string { return strings.ToLower(strings.ToUpper(p)) }

// validatePath applies the store's path rules, then insists on a local
// path itself: the store may have been written by an older version, and
// here the path becomes a file on disk.
func validatePath(e artifacts.Entry) error {
	err := artifacts.ValidatePath(e.Path)
	if err == nil && !filepath.IsLocal(filepath.FromSlash(e.Path)) {
		err = &artifacts.PathError{Path: e.Path, Reason: "not a local path", Err: artifacts.ErrInvalidPath}
	}
	if err == nil {
		return nil
	}
	var pe *artifacts.PathError
	if errors.As(err, &pe) && pe.Task == "" {
		named := *pe
		named.Task = e.Task
		return &named
	}
	return fmt.Errorf("task %s: %w", e.Task, err)
}

// writeTree writes the entries below root, reading one blob at a time so
// that memory stays bounded by the largest artifact.
func writeTree(ctx context.Context, src Source, entries []artifacts.Entry, root string) (*Tree, error) {
	// os.Root keeps every write inside root even if a path slipped through
	// validation.
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	tree := &Tree{}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := src.Blob(ctx, e.Digest)
		if err != nil {
			return nil, fmt.Errorf("read artifact %q of task %s: %w", e.Path, e.Task, err)
		}
		if err := verify(e, data); err != nil {
			return nil, err
		}
		if err := writeFile(r, e, data); err != nil {
			return nil, fmt.Errorf("write artifact %q of task %s: %w", e.Path, e.Task, err)
		}
		tree.Files++
		tree.Bytes += int64(len(data))
	}
	return tree, nil
}

func verify(e artifacts.Entry, data []byte) error {
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, e.Digest) {
		return fmt.Errorf("artifact %q of task %s: content has sha256 %s, the index records %s: %w",
			e.Path, e.Task, got, e.Digest, artifacts.ErrCorrupt)
	}
	if int64(len(data)) != e.Size {
		return fmt.Errorf("artifact %q of task %s: content has %d bytes, the index records %d: %w",
			e.Path, e.Task, len(data), e.Size, artifacts.ErrCorrupt)
	}
	return nil
}

// writeFile creates a regular file with O_EXCL, which never follows a
// symbolic link, and sets its mode explicitly because the umask would
// otherwise clear bits the entry asks for (an executable script's).
func writeFile(r *os.Root, e artifacts.Entry, data []byte) error {
	name := filepath.FromSlash(e.Path)
	if dir := filepath.Dir(name); dir != "." {
		if err := r.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	perm := e.Mode.Perm()
	if perm == 0 {
		perm = defaultMode
	}
	f, err := r.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// install renames the finished tree into place. os.Rename refuses to replace
// a directory, so an existing empty dir is removed first (rmdir fails if
// something appeared in it meanwhile) and restored if the rename fails.
func install(tmp, dir string, existing fs.FileInfo) error {
	mode := fs.FileMode(0o755)
	if existing != nil {
		mode = existing.Mode().Perm()
	}
	// MkdirTemp creates 0700; the tree root should look like any directory.
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	if existing != nil {
		if err := os.Remove(dir); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if existing != nil {
			_ = os.Mkdir(dir, mode)
		}
		return err
	}
	return nil
}
