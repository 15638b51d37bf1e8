// Package procgroup runs a command so that nothing it starts outlives it:
// in its own process group, killed when the command exits, times out or
// its context ends. The collector's test runs and the llm executor's run
// tool use it.
package procgroup

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// OutputGrace bounds the wait for the output pipe once the group is
// killed: a process that left the group (setsid) could hold it open for
// ever.
const OutputGrace = 2 * time.Second

// Run starts cmd (made with exec.CommandContext) in its own process group,
// copies its combined stdout and stderr into out, waits for it to exit,
// then kills its group, and returns once the output is copied, at most
// OutputGrace later. cmd's context ending kills the whole group too. The
// error is the failure to start; how the command ended is in
// cmd.ProcessState.
func Run(cmd *exec.Cmd, out io.Writer) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return Kill(cmd.Process.Pid) }
	// An *os.File as the output makes Wait return when the command exits,
	// not when every process holding the pipe has; the output is read here.
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return err
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, pr)
	}()
	_ = cmd.Wait() // the outcome is in ProcessState
	// Background processes it started would hold the pipe open and
	// outlive it.
	_ = Kill(cmd.Process.Pid)
	select {
	case <-copied:
	case <-time.After(OutputGrace):
		pr.Close() // ends the copy
		<-copied
	}
	return nil
}

// Kill kills the process group led by pid; a group already gone is not an
// error.
func Kill(pid int) error {
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// RemoveAll removes dir like os.RemoveAll, first making its directories
// writable when that fails: the go command writes its module cache
// read-only, and a command's HOME may hold one.
func RemoveAll(dir string) error {
	if os.RemoveAll(dir) == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
