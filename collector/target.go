package collector

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// CheckWritable reports whether a tree can later be assembled into dir, so
// that the CLI refuses an unusable --out before a job runs rather than
// after it. dir must not exist, or be an empty directory; the nearest
// existing ancestor of dir's parent must be a directory in which a file
// can be created (it is probed by creating and removing a temporary file).
// Errors name dir and the reason; one for a non-empty dir wraps
// ErrOutputExists.
func CheckWritable(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("output directory %s: %w", dir, err)
	}
	existing, err := checkTarget(abs)
	if err != nil {
		return fmt.Errorf("output directory %s: %w", dir, err)
	}
	// Assemble writes a temporary sibling and renames it, so it is the
	// parent that must be writable, whether or not dir exists.
	parent, err := existingAncestor(filepath.Dir(abs))
	if err != nil {
		return fmt.Errorf("output directory %s: %w", dir, err)
	}
	probes := []string{parent}
	if existing != nil {
		probes = append(probes, abs)
	}
	for _, p := range probes {
		if err := probeWrite(p); err != nil {
			return fmt.Errorf("output directory %s: cannot write in %s: %w", dir, p, err)
		}
	}
	return nil
}

// checkTarget accepts a dir that does not exist (it returns nil, nil) or an
// empty directory (it returns its info, whose mode the tree keeps). A
// symbolic link is refused even when it points to an empty directory: the
// rename that installs the tree would replace the link, not fill its target.
func checkTarget(dir string) (fs.FileInfo, error) {
	fi, err := os.Lstat(dir)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		// ENOTDIR: an ancestor is a file; the parent checks report it.
		return nil, nil
	default:
		return nil, err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("%w: it is a symbolic link", ErrOutputExists)
	case !fi.IsDir():
		return nil, fmt.Errorf("%w: it is a file", ErrOutputExists)
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && err != io.EOF {
		return nil, err
	}
	if len(names) > 0 {
		return nil, fmt.Errorf("%w: it holds %s", ErrOutputExists, names[0])
	}
	return fi, nil
}

// existingAncestor returns p or its nearest existing ancestor, which must be
// a directory: MkdirAll can create what is missing below it.
func existingAncestor(p string) (string, error) {
	for {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return "", fmt.Errorf("%s is not a directory", p)
			}
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return "", err
		}
		up := filepath.Dir(p)
		if up == p {
			return "", err
		}
		p = up
	}
}

// probeWrite creates and removes a file in dir: permission bits alone do
// not tell (root, ACLs, read-only mounts).
func probeWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".orchestrate-probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	cerr := f.Close()
	if err := os.Remove(name); err != nil {
		return err
	}
	return cerr
}
