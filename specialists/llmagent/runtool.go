package llmagent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/internal/procgroup"
)

// defaultRunTimeout bounds one command of the run tool.
const defaultRunTimeout = 2 * time.Minute

// runTimeout is the default of Config.RunTimeout, shortened by the tests.
var runTimeout = defaultRunTimeout

// maxRunOutput bounds the output a run returns: enough for a test
// failure or a listing, small enough to leave room in the context for
// many runs.
const maxRunOutput = 16 << 10

// shell runs the command line; a variable so that the tests can take it
// away.
var shell = "/bin/sh"

// fallbackPath is the commands' PATH when the worker has none, so that
// sh does not look for programs in the workspace.
const fallbackPath = "/usr/local/bin:/usr/bin:/bin"

// workspace is where the run tool's commands work: a copy of the
// subtask's inputs and of the files written so far. It is made at the
// first run, inside the request's scratch directory, so that a model that
// never runs a command costs no disk.
type workspace struct {
	base      string // holds the three below; removed at finish
	dir       string // the commands' working directory
	home, tmp string
	// pending are the written files that dir does not hold yet.
	pending map[string]bool
}

// workspace returns the session's workspace, making it on first use.
func (s *session) workspace(ctx context.Context) (*workspace, error) {
	if s.ws != nil {
		return s.ws, nil
	}
	work, err := s.req.Workdir()
	if err != nil {
		return nil, err
	}
	// HOME and TMPDIR must be absolute, and a relative ScratchRoot makes a
	// relative workdir.
	base, err := filepath.Abs(filepath.Join(work, "run"))
	if err != nil {
		return nil, err
	}
	ws := &workspace{base: base, dir: filepath.Join(base, "workspace"), home: filepath.Join(base, "home"),
		tmp: filepath.Join(base, "tmp"), pending: map[string]bool{}}
	if err := ws.mkdirs(); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(ws.dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	for _, e := range s.inputs {
		data, err := s.req.Artifacts.Read(ctx, s.req.Job, e.Path)
		if err != nil {
			return nil, fmt.Errorf("read input %s: %w", e.Path, err)
		}
		// Executable inputs (scripts) stay executable.
		if err := place(root, e.Path, data, e.Mode.Perm()&0o755|0o600); err != nil {
			return nil, err
		}
	}
	for _, f := range s.written {
		ws.pending[f.Path] = true
	}
	s.ws = ws
	return ws, nil
}

// mkdirs makes the workspace's directories, again before each command in
// case the previous one removed one of them.
func (ws *workspace) mkdirs() error {
	for _, d := range []string{ws.dir, ws.home, ws.tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	return nil
}

// sync copies the written files the workspace does not hold yet. It
// returns the files it could not copy, because a command left a directory
// or a link in their way: the command runs all the same (it may be the
// one clearing the way), the model is told, and they stay pending.
func (ws *workspace) sync(written []artifacts.File) (failed []string, err error) {
	if len(ws.pending) == 0 {
		return nil, nil
	}
	root, err := os.OpenRoot(ws.dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	for _, f := range written {
		if !ws.pending[f.Path] {
			continue
		}
		if err := place(root, f.Path, f.Data, f.Mode|0o600); err != nil {
			failed = append(failed, err.Error())
			continue
		}
		delete(ws.pending, f.Path)
	}
	return failed, nil
}

// place writes one file into the workspace. Going through root keeps the
// write inside the workspace whatever links a command left there; what
// is at the path is removed first, so that a read-only file or a link left
// by a command is replaced rather than written through.
func place(root *os.Root, p string, data []byte, mode fs.FileMode) error {
	name := filepath.FromSlash(p)
	if err := root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", p, err)
	}
	if err := root.WriteFile(name, data, mode); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// runCommand is the run tool: it runs command in the workspace and returns
// its exit status and output. A non-zero exit or a timeout is a result
// like any other, not an error: the model reads the status on the first
// line, and many commands (grep, test, diff) exit non-zero to answer.
func (s *session) runCommand(ctx context.Context, command string) (string, error) {
	if strings.TrimSpace(command) == "" {
		return "", refuse("run needs a command line")
	}
	ws, err := s.workspace(ctx)
	if err != nil {
		return "", err
	}
	if err := ws.mkdirs(); err != nil {
		return "", err
	}
	failed, err := ws.sync(s.written)
	if err != nil {
		return "", err
	}
	out, err := ws.run(ctx, command, s.runTimeout)
	if err != nil || len(failed) == 0 {
		return out, err
	}
	if !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return out + fmt.Sprintf("[written files not copied into the workspace, as something is in their way: %s]", strings.Join(failed, "; ")), nil
}

// run runs one command line in its own process group, which is killed
// when the command exits, times out or ctx ends: nothing it started in
// the background outlives it, to hold the output pipe open or write into
// the scratch directory while it is removed.
func (ws *workspace) run(ctx context.Context, command string, timeout time.Duration) (string, error) {
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, shell, "-c", command)
	cmd.Dir = ws.dir
	cmd.Env = ws.environ()
	out := &clipped{max: maxRunOutput}
	if err := procgroup.Run(cmd, out); err != nil {
		return "", refuse("cannot run the command: %v", err)
	}
	timedOut := runCtx.Err() != nil
	if ctx.Err() != nil {
		// The run itself is over (its timeout, or the worker stopping).
		return "", fmt.Errorf("command killed: %w", ctx.Err())
	}
	st := cmd.ProcessState
	var status string
	switch sys, _ := st.Sys().(syscall.WaitStatus); {
	case st.Exited():
		status = fmt.Sprintf("exit %d", st.ExitCode())
	case timedOut:
		status = fmt.Sprintf("killed after %v (the time limit of a command)", timeout)
	case sys.Signaled():
		status = fmt.Sprintf("killed by signal %d (%v)", int(sys.Signal()), sys.Signal())
	default:
		status = st.String()
	}
	if o := out.String(); o != "" {
		return status + "\n" + o, nil
	}
	return status, nil
}

// environ is the commands' whole environment: nothing of the worker's but
// its PATH, so that no API key or other secret reaches a command the
// model wrote. HOME and TMPDIR are private, so that what tools cache or
// leave behind is removed with the scratch directory.
func (ws *workspace) environ() []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = fallbackPath
	}
	return []string{"PATH=" + path, "HOME=" + ws.home, "TMPDIR=" + ws.tmp, "LANG=C.UTF-8"}
}

// clipped keeps the head and the tail of what is written to it, max bytes
// in all: the head shows how a command started, the tail how it ended,
// which is where compilers and test runners print their summaries.
type clipped struct {
	max        int
	head, tail []byte
	total      int64
}

func (c *clipped) Write(p []byte) (int, error) {
	n := len(p)
	c.total += int64(n)
	if room := c.max/2 - len(c.head); room > 0 {
		k := min(room, len(p))
		c.head = append(c.head, p[:k]...)
		p = p[k:]
	}
	c.tail = append(c.tail, p...)
	// Trimming the tail only once it holds twice what it keeps makes the
	// copying linear in the output.
	if keep := c.max - c.max/2; len(c.tail) > 2*keep {
		c.tail = append(c.tail[:0], c.tail[len(c.tail)-keep:]...)
	}
	return n, nil
}

// String returns the output, with a marker saying how many bytes were cut
// from its middle. The cut falls between characters, and bytes that are
// not UTF-8 become U+FFFD, since the output goes to the model as text.
func (c *clipped) String() string {
	if c.total <= int64(c.max) {
		return strings.ToValidUTF8(string(c.head)+string(c.tail), "\uFFFD")
	}
	head := c.head
	tail := c.tail[len(c.tail)-(c.max-c.max/2):]
	// A character split by the cut goes with it.
	for i := len(head) - 1; i >= 0 && i >= len(head)-utf8.UTFMax; i-- {
		if utf8.RuneStart(head[i]) {
			if !utf8.FullRune(head[i:]) {
				head = head[:i]
			}
			break
		}
	}
	for i := 0; i < utf8.UTFMax-1 && len(tail) > 0 && !utf8.RuneStart(tail[0]); i++ {
		tail = tail[1:]
	}
	cut := c.total - int64(len(head)+len(tail))
	return strings.ToValidUTF8(fmt.Sprintf("%s\n[... %d bytes cut ...]\n%s", head, cut, tail), "\uFFFD")
}
