package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/orchestrate-dev/orchestrate/internal/procgroup"
)

// maxOutput bounds the output a Report keeps: its tail, where a failing
// test prints its summary.
const maxOutput = 256 << 10

// basePath follows the go binary's directory in the default PATH.
const basePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// RunOptions are the worker's settings for running a tree's tests. Empty
// fields are left out of the command's environment.
type RunOptions struct {
	// GoCache, GoModCache and GoPath become GOCACHE, GOMODCACHE and GOPATH.
	// Sharing the worker's warm caches lets a generated project build
	// offline (GOPROXY=off) and fast.
	GoCache    string
	GoModCache string
	GoPath     string
	// Path is the PATH of the command; if empty, the directory of the go
	// binary followed by the system directories.
	Path string
	// Env is added last and overrides everything else, the manifest's
	// test.env included.
	Env map[string]string
}

// DefaultRunOptions returns the Go caches of this machine, as `go env`
// reports them (asked once per process). Without a go binary it returns
// zero options.
func DefaultRunOptions() RunOptions { return machineGoEnv() }

var machineGoEnv = sync.OnceValue(func() RunOptions {
	out, err := exec.Command(filepath.Join(goBinDir(), "go"), "env", "-json", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		return RunOptions{}
	}
	var v struct{ GOCACHE, GOMODCACHE, GOPATH string }
	if json.Unmarshal(out, &v) != nil {
		return RunOptions{}
	}
	return RunOptions{GoCache: v.GOCACHE, GoModCache: v.GOMODCACHE, GoPath: v.GOPATH}
})

// goBinDir is the directory of the go binary on the worker's PATH, or of
// the usual install location when it is not on PATH (as in some service
// managers' environments).
var goBinDir = sync.OnceValue(func() string {
	if p, err := exec.LookPath("go"); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return filepath.Dir(abs)
		}
	}
	return "/usr/local/go/bin"
})

// Report is the outcome of a tree's test command; the collector stores it
// as the job's ReportPath artifact.
type Report struct {
	Command   []string `json:"command"`
	Passed    bool     `json:"passed"`
	ExitCode  int      `json:"exit_code"` // -1 when killed by a signal
	DurationS float64  `json:"duration_s"`
	TimedOut  bool     `json:"timed_out"`
	// Output is the command's combined stdout and stderr, its last 256 KiB.
	Output string `json:"output"`
}

// RunTests runs m.Test.Command in dir and reports how it went. Failing
// tests are a Report with Passed false; the error is non-nil only when the
// command could not be started (it wraps exec.ErrNotFound when the program
// is not on the command's PATH).
//
// The command runs with a scrubbed environment, so that no secret of the
// worker reaches generated code: PATH, HOME and TMPDIR (a fresh directory,
// removed afterwards), LANG=C.UTF-8, offline Go settings (GOFLAGS=-mod=mod,
// GOPROXY=off, GOSUMDB=off, GOTOOLCHAIN=local, GOWORK=off, CGO_ENABLED=0),
// the caches of opts, then m.Test.Env, then opts.Env. It runs in its own
// process group, which is killed when the command exits, times out
// (m.Test.Timeout or ctx, whichever ends first) or ctx is cancelled, so
// nothing it started outlives it.
func RunTests(ctx context.Context, dir string, m *Manifest, opts RunOptions) (*Report, error) {
	if m == nil || len(m.Test.Command) == 0 {
		return nil, fmt.Errorf("run tests in %s: %w: no test command", dir, ErrInvalidManifest)
	}
	argv := m.Test.Command
	scratch, err := os.MkdirTemp("", "orchestrate-test-")
	if err != nil {
		return nil, fmt.Errorf("run tests in %s: %w", dir, err)
	}
	// The go command writes its module cache read-only into HOME.
	defer func() { _ = procgroup.RemoveAll(scratch) }()
	env := testEnv(scratch, m, opts)
	bin, err := lookPath(argv[0], env["PATH"])
	if err != nil {
		return nil, fmt.Errorf("run tests in %s: %w", dir, err)
	}

	timeout := m.Test.Timeout
	if timeout <= 0 {
		timeout = DefaultTestTimeout
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, bin, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Dir = dir
	cmd.Env = environ(env)
	out := &tailBuffer{max: maxOutput}
	start := time.Now()
	if err := procgroup.Run(cmd, out); err != nil {
		return nil, fmt.Errorf("run tests in %s: start %s: %w", dir, argv[0], err)
	}
	elapsed := time.Since(start)
	ctxErr := runCtx.Err()

	exit := cmd.ProcessState.ExitCode()
	rep := &Report{
		Command:   slices.Clone(argv),
		Passed:    cmd.ProcessState.Success(),
		ExitCode:  exit,
		DurationS: math.Round(elapsed.Seconds()*1000) / 1000,
		Output:    out.String(),
	}
	rep.TimedOut = !rep.Passed && errors.Is(ctxErr, context.DeadlineExceeded)
	return rep, nil
}

// testEnv builds the command's whole environment; nothing is inherited.
func testEnv(scratch string, m *Manifest, opts RunOptions) map[string]string {
	env := map[string]string{
		"PATH":        opts.Path,
		"HOME":        scratch,
		"TMPDIR":      scratch,
		"LANG":        "C.UTF-8",
		"GOFLAGS":     "-mod=mod",
		"GOPROXY":     "off",
		"GOTOOLCHAIN": "local",
		"GOWORK":      "off",
		"CGO_ENABLED": "0",
		// With GOPROXY=off only modules already in the cache are used, and
		// those were verified when downloaded; asking sum.golang.org for a
		// tree without go.sum entries would fail offline.
		"GOSUMDB": "off",
	}
	if env["PATH"] == "" {
		env["PATH"] = goBinDir() + string(filepath.ListSeparator) + basePath
	}
	for k, v := range map[string]string{"GOCACHE": opts.GoCache, "GOMODCACHE": opts.GoModCache, "GOPATH": opts.GoPath} {
		if v != "" {
			env[k] = v
		}
	}
	maps.Copy(env, m.Test.Env)
	maps.Copy(env, opts.Env)
	return env
}

func environ(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// lookPath resolves name on the command's PATH, not the worker's, which is
// what exec.Command would use. Empty PATH elements (the current directory)
// are skipped: the tree must not shadow a program by accident.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil // relative to the tree (cmd.Dir) or absolute
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w (the test environment's PATH is %s)", &exec.Error{Name: name, Err: exec.ErrNotFound}, path)
}
