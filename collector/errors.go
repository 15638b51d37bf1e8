package collector

import "errors"

// Sentinel errors of the collector. Errors about artifacts reuse the
// sentinels of package artifacts (ErrInvalidPath, ErrConflict, ErrNotFound,
// ErrCorrupt) so that callers test one set of errors whichever package
// found the fault.
var (
	// ErrOutputExists: the directory a tree should be assembled into
	// exists and is not an empty directory.
	ErrOutputExists = errors.New("exists and is not an empty directory")
	// ErrNoManifest: the tree has no orchestrate.yaml at its root.
	ErrNoManifest = errors.New("no manifest")
	// ErrInvalidManifest: orchestrate.yaml cannot be parsed or misses a
	// required field.
	ErrInvalidManifest = errors.New("invalid manifest")
	// ErrTestsFailed: the tree's test command failed or timed out. The
	// error carrying it is a *TestError.
	ErrTestsFailed = errors.New("tests failed")
)
