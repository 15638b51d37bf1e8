// Package execagent runs an external program as a role's specialist: an
// agent CLI in non-interactive mode, or any script. The program works in a
// scratch workspace holding the subtask's inputs (the files its upstream
// subtasks wrote); what it creates or changes there becomes the subtask's
// artifacts, and its output is kept as a log artifact.
//
//	skill := execagent.Skill(execagent.Config{Command: []string{"./agents/pipeline.sh"}, Timeout: 10 * time.Minute})
//	reg.Register(specialists.RoleDataPipeline, "features", skill)
package execagent

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/collector"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// Config is how a role runs its program.
type Config struct {
	// Command is run in the workspace, without a shell. A relative
	// program path is looked up on the worker's PATH, or taken as is when
	// it contains a slash (then relative to the worker's directory).
	Command []string
	// Timeout bounds one run; zero means 10 minutes. The program's whole
	// process group is killed when it ends.
	Timeout time.Duration
	// PermanentExitCodes are exit codes that no retry can fix; any other
	// non-zero code is a transient failure, retried with backoff.
	PermanentExitCodes []int
	// Env adds settings to the program's scrubbed environment.
	Env map[string]string
}

// DefaultTimeout bounds a run when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Minute

// The workspace's own folder: the instructions for the program and
// nothing it writes there is taken as an artifact.
const metaDir = ".orchestrate"

// ErrAgentFailed is wrapped by the error of a run that exited non-zero or
// timed out.
var ErrAgentFailed = errors.New("agent failed")

// Skill returns a skill that runs cfg's program for each subtask.
func Skill(cfg Config) specialists.Skill {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return func(ctx context.Context, req *specialists.Request) (*specialists.Result, error) {
		if len(cfg.Command) == 0 {
			return nil, specialists.Permanent(fmt.Errorf("role %s: the exec executor has no command", req.Role))
		}
		work, err := req.Workdir()
		if err != nil {
			return nil, err
		}
		ws := filepath.Join(work, "workspace")
		if err := os.MkdirAll(filepath.Join(ws, metaDir), 0o755); err != nil {
			return nil, err
		}
		if err := materialize(ctx, req, ws); err != nil {
			return nil, err
		}
		before, err := snapshot(ws)
		if err != nil {
			return nil, err
		}
		instructions := brief(req)
		instrFile := filepath.Join(ws, metaDir, "instructions.md")
		if err := os.WriteFile(instrFile, []byte(instructions), 0o644); err != nil {
			return nil, err
		}
		argv := slices.Clone(cfg.Command)
		if strings.Contains(argv[0], "/") && !filepath.IsAbs(argv[0]) {
			// Relative to where the worker runs, not to the workspace.
			if abs, err := filepath.Abs(argv[0]); err == nil {
				argv[0] = abs
			}
		}
		rep, err := collector.RunTests(ctx, ws, &collector.Manifest{Test: collector.TestSpec{Command: argv, Timeout: cfg.Timeout}},
			collector.RunOptions{Path: os.Getenv("PATH"), Env: environment(cfg, req, instructions, instrFile)})
		if err != nil {
			// The program cannot be started: no retry helps.
			return nil, specialists.Permanent(fmt.Errorf("role %s: %w", req.Role, err))
		}
		if !rep.Passed {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			failure := fmt.Errorf("%w: %s exited with code %d after %.1fs%s", ErrAgentFailed, argv[0], rep.ExitCode, rep.DurationS, tail(rep.Output))
			if rep.TimedOut {
				failure = fmt.Errorf("%w: %s timed out after %s and was killed%s", ErrAgentFailed, argv[0], cfg.Timeout, tail(rep.Output))
			}
			if slices.Contains(cfg.PermanentExitCodes, rep.ExitCode) {
				return nil, specialists.Permanent(failure)
			}
			return nil, failure
		}
		files, err := changed(ws, before)
		if err != nil {
			return nil, specialists.Permanent(fmt.Errorf("role %s: %w", req.Role, err))
		}
		files = append(files, artifacts.File{Path: path.Join(metaDir, "logs", req.Task+".log"), Data: []byte(rep.Output), Mode: 0o644})
		return &specialists.Result{
			Files:   files,
			Summary: fmt.Sprintf("%s wrote %d files in %.1fs", path.Base(argv[0]), len(files)-1, rep.DurationS),
		}, nil
	}
}

// materialize writes the artifacts of the subtask's upstream subtasks
// into the workspace.
func materialize(ctx context.Context, req *specialists.Request, ws string) error {
	if len(req.Inputs) == 0 || req.Artifacts == nil {
		return nil
	}
	entries, err := req.Artifacts.Files(ctx, req.Job)
	if err != nil {
		return fmt.Errorf("list the inputs of task %s: %w", req.Task, err)
	}
	for _, e := range entries {
		if !slices.Contains(req.Inputs, e.Task) {
			continue
		}
		data, err := req.Artifacts.Read(ctx, req.Job, e.Path)
		if err != nil {
			return fmt.Errorf("read input %s: %w", e.Path, err)
		}
		dst := filepath.Join(ws, filepath.FromSlash(e.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, e.Mode|0o600); err != nil {
			return err
		}
	}
	return nil
}

// brief is the instructions file: the subtask, and which run this is.
func brief(req *specialists.Request) string {
	return req.Brief() + fmt.Sprintf("\nJob %s, task %s, attempt %d.\n", req.Job, req.Task, req.Attempt)
}

// environment is what the program is told, on top of the scrubbed
// environment RunTests gives every command.
func environment(cfg Config, req *specialists.Request, instructions, instrFile string) map[string]string {
	env := map[string]string{
		"ORCHESTRATE_JOB": req.Job, "ORCHESTRATE_TASK": req.Task, "ORCHESTRATE_ROLE": req.Role,
		"ORCHESTRATE_SKILL": req.Skill, "ORCHESTRATE_ATTEMPT": strconv.Itoa(req.Attempt),
		"ORCHESTRATE_INSTRUCTIONS": instructions, "ORCHESTRATE_INSTRUCTIONS_FILE": instrFile,
	}
	for k, v := range req.Params {
		env["ORCHESTRATE_PARAM_"+strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(k))] = v
	}
	for k, v := range cfg.Env {
		env[k] = v
	}
	return env
}

// snapshot hashes every regular file of the workspace.
func snapshot(ws string) (map[string][32]byte, error) {
	out := map[string][32]byte{}
	err := filepath.WalkDir(ws, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[p] = sha256.Sum256(data)
		return nil
	})
	return out, err
}

// changed returns the files the program created or changed, outside the
// workspace's own folder. A symbolic link or other special file is
// refused: its target could lie anywhere on the worker.
func changed(ws string, before map[string][32]byte) ([]artifacts.File, error) {
	var files []artifacts.File
	err := filepath.WalkDir(ws, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(ws, p)
		rel = filepath.ToSlash(rel)
		if rel == metaDir && d.IsDir() {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("the agent left %s, which is not a regular file", rel)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if h, ok := before[p]; ok && h == sha256.Sum256(data) {
			return nil
		}
		if err := artifacts.ValidatePath(rel); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, artifacts.File{Path: rel, Data: data, Mode: info.Mode().Perm() & 0o755})
		return nil
	})
	return files, err
}

// tail quotes the end of the output in an error.
func tail(out string) string {
	out = strings.TrimSpace(out)
	if out == "" {
		return ""
	}
	lines := strings.Split(out, "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return "\n" + strings.Join(lines, "\n")
}
