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
	"strings"

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
// the task's workdir, runs the tests its manifest declares with opts plus
// the request's Env (for example the Redis URL generated tests use), and
// returns the Report as the ReportPath artifact.
//
// What a retry cannot fix is a permanent error: an invalid or conflicting
// index, a corrupt or missing blob, a missing or invalid manifest, a test
// program that is not installed, failing tests (a *TestError). Errors of
// the source, and a ctx cancelled while the tests ran, are not.
func Skill(src Source, opts RunOptions) specialists.Skill {
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
		run.Env = make(map[string]string, len(opts.Env)+len(req.Env))
		maps.Copy(run.Env, opts.Env)
		maps.Copy(run.Env, req.Env)
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
		data, err := json.MarshalIndent(rep, "", "  ")
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

func isPermanentAssembly(err error) bool {
	for _, target := range []error{artifacts.ErrInvalidPath, artifacts.ErrTooLarge, artifacts.ErrConflict, artifacts.ErrNotFound, artifacts.ErrCorrupt} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// ReadReport decodes a ReportPath artifact.
func ReadReport(data []byte) (*Report, error) {
	var r Report
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("read test report: %w", err)
	}
	if len(r.Command) == 0 {
		return nil, errors.New("read test report: no command recorded")
	}
	return &r, nil
}
