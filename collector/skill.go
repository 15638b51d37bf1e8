package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// ReportPath is the artifact in which the collector task records the
// Report of the job's tests.
const ReportPath = ".orchestrate/test-report.json"

// failureLines is how much output a test failure's error quotes: enough
// for Go's summary of a failing test, short enough for a log line.
const failureLines = 40

// TestError is the error of a collector task whose tree's tests failed or
// timed out. It wraps ErrTestsFailed.
type TestError struct {
	Job    string
	Report *Report
}

func (e *TestError) Error() string {
	r := e.Report
	var b strings.Builder
	if r.TimedOut {
		fmt.Fprintf(&b, "job %s: tests timed out after %.1fs: %s was killed", e.Job, r.DurationS, commandLine(r.Command))
	} else {
		fmt.Fprintf(&b, "job %s: tests failed: %s exited with code %d after %.1fs", e.Job, commandLine(r.Command), r.ExitCode, r.DurationS)
	}
	if tail := lastLines(r.Output, failureLines); tail != "" {
		fmt.Fprintf(&b, "\n--- last lines of output ---\n%s", tail)
	}
	return b.String()
}

func (e *TestError) Unwrap() error { return ErrTestsFailed }

// Skill returns the collector's skill: it assembles the job's tree into
// the task's workdir, runs the tests its manifest declares with opts (whose
// Go caches default to DefaultRunOptions' when all are empty) plus
// the request's Env (for example the Redis URL generated tests use), and
// returns the Report as the ReportPath artifact.
//
// What a retry cannot fix is a permanent error: an invalid or conflicting
// index, a corrupt or missing blob, a missing or invalid manifest, a test
// program that is not installed, failing tests (a *TestError). Errors of
// the source, and a ctx cancelled while the tests ran, are not.
//
// With scratch set, the tests also get EnvRedisURL and EnvRedisPrefix, and
// whatever they leave under the prefix is deleted afterwards.
func Skill(src Source, opts RunOptions, scratch *ScratchRedis) specialists.Skill {
	return func(ctx context.Context, req *specialists.Request) (*specialists.Result, error) {
		work, err := req.Workdir()
		if err != nil {
			return nil, fmt.Errorf("collect job %s: %w", req.Job, err)
		}
		tree, err := Assemble(ctx, src, req.Job, filepath.Join(work, "tree"))
		if err != nil {
			if isPermanentAssembly(err) {
				return nil, specialists.Permanent(err)
			}
			return nil, err
		}
		m, err := LoadManifest(tree.Dir)
		if err != nil {
			err = fmt.Errorf("job %s: %w", req.Job, err)
			if errors.Is(err, ErrNoManifest) || errors.Is(err, ErrInvalidManifest) {
				return nil, specialists.Permanent(err)
			}
			return nil, err
		}
		run := opts
		if run.GoCache == "" && run.GoModCache == "" && run.GoPath == "" {
			// Asked here, not when the skill is registered: most commands
			// that build the registry never run a collector.
			d := DefaultRunOptions()
			run.GoCache, run.GoModCache, run.GoPath = d.GoCache, d.GoModCache, d.GoPath
		}
		run.Env = make(map[string]string, len(opts.Env)+len(req.Env)+2)
		maps.Copy(run.Env, opts.Env)
		maps.Copy(run.Env, req.Env)
		if scratch != nil {
			maps.Copy(run.Env, scratch.env(req.Job))
			defer func() {
				// The run's ctx may be cancelled; the cleanup must still happen.
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				_, _ = scratch.clean(cctx, req.Job)
			}()
		}
		rep, err := RunTests(ctx, tree.Dir, m, run)
		if err != nil {
			err = fmt.Errorf("job %s: %w", req.Job, err)
			if errors.Is(err, exec.ErrNotFound) {
				return nil, specialists.Permanent(err)
			}
			return nil, err
		}
		if !rep.Passed {
			// The worker stopping is no verdict on the tree.
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("job %s: tests interrupted: %w", req.Job, err)
			}
			return nil, specialists.Permanent(&TestError{Job: req.Job, Report: rep})
		}
		data, err := json.MarshalIndent(treeReport(rep), "", "  ")
		if err != nil {
			return nil, fmt.Errorf("job %s: encode test report: %w", req.Job, err)
		}
		return &specialists.Result{
			Files: []artifacts.File{{Path: ReportPath, Data: append(data, '\n'), Mode: 0o644}},
			Summary: fmt.Sprintf("tests passed in %.1fs (%s over %d files, %d bytes)",
				rep.DurationS, commandLine(rep.Command), tree.Files, tree.Bytes),
		}, nil
	}
}

// TreeReport is the ReportPath artifact: what a passing run proved, without
// what changes from run to run (its duration and output), so that the
// same job yields the same tree.
type TreeReport struct {
	Command  []string `json:"command"`
	Passed   bool     `json:"passed"`
	ExitCode int      `json:"exit_code"`
	// Packages are the go test results read from the output, one per
	// package; empty for other test commands.
	Packages []PackageResult `json:"packages,omitempty"`
}

// PackageResult is one package line of go test's output.
type PackageResult struct {
	Package string `json:"package"`
	// Result is ok, FAIL or "no test files".
	Result string `json:"result"`
}

// goTestLine matches go test's summary line of a package: "ok  \tpkg\t1.2s",
// "FAIL\tpkg\t0.1s" or "?   \tpkg\t[no test files]".
var goTestLine = regexp.MustCompile(`^(ok|FAIL|\?)\s+\t?(\S+)\s+(\[no test files\]|\(cached\)|[0-9.]+s)`)

func treeReport(r *Report) *TreeReport {
	tr := &TreeReport{Command: r.Command, Passed: r.Passed, ExitCode: r.ExitCode}
	for _, line := range strings.Split(r.Output, "\n") {
		m := goTestLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		res := m[1]
		if res == "?" {
			res = "no test files"
		}
		tr.Packages = append(tr.Packages, PackageResult{Package: m[2], Result: res})
	}
	return tr
}

func isPermanentAssembly(err error) bool {
	for _, target := range []error{artifacts.ErrInvalidPath, artifacts.ErrTooLarge, artifacts.ErrConflict, artifacts.ErrNotFound, artifacts.ErrCorrupt} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// ReadReport decodes a ReportPath artifact.
func ReadReport(data []byte) (*TreeReport, error) {
	var r TreeReport
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("read test report: %w", err)
	}
	if len(r.Command) == 0 {
		return nil, errors.New("read test report: no command recorded")
	}
	return &r, nil
}
