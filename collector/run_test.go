package collector

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func manifest(timeout time.Duration, command ...string) *Manifest {
	return &Manifest{Test: TestSpec{Command: command, Timeout: timeout}}
}

func TestRunTestsReportsTheOutcome(t *testing.T) {
	tests := []struct {
		name       string
		command    []string
		wantPassed bool
		wantExit   int
		wantOutput string
	}{
		{"a passing command passes", []string{"sh", "-c", "echo ok"}, true, 0, "ok\n"},
		{"a failing command fails with its exit code", []string{"sh", "-c", "echo broken >&2; exit 3"}, false, 3, "broken\n"},
		{"stdout and stderr are captured together in order", []string{"sh", "-c", "echo one; echo two >&2; echo three"}, true, 0, "one\ntwo\nthree\n"},
		{"a program is found on the command's PATH", []string{"true"}, true, 0, ""},
		{"a command runs in the tree's directory", []string{"cat", "marker.txt"}, true, 0, "here\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTestFile(t, filepath.Join(dir, "marker.txt"), "here\n")
			rep, err := RunTests(context.Background(), dir, manifest(time.Minute, tt.command...), RunOptions{})
			if err != nil {
				t.Fatalf("RunTests: %v", err)
			}
			if rep.Passed != tt.wantPassed || rep.ExitCode != tt.wantExit || rep.TimedOut || rep.Output != tt.wantOutput {
				t.Errorf("report = %+v, want passed %v, exit %d, output %q", rep, tt.wantPassed, tt.wantExit, tt.wantOutput)
			}
			if strings.Join(rep.Command, " ") != strings.Join(tt.command, " ") || rep.DurationS < 0 {
				t.Errorf("report command %q, duration %v", rep.Command, rep.DurationS)
			}
		})
	}
}

func TestRunTestsFailsToStartAMissingProgram(t *testing.T) {
	_, err := RunTests(context.Background(), t.TempDir(), manifest(time.Minute, "no-such-program-xyz"), RunOptions{})
	if !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), "no-such-program-xyz") {
		t.Fatalf("err = %v, want exec.ErrNotFound naming the program", err)
	}
}

func TestRunTestsKillsTheProcessGroup(t *testing.T) {
	tests := []struct {
		name         string
		timeout      time.Duration // the manifest's
		ctxTimeout   time.Duration // 0: none
		script       string
		wantTimedOut bool
	}{
		{"a command over the manifest's timeout is killed with its children",
			200 * time.Millisecond, 0, "sleep 30 & echo $! > bg.pid; sleep 30", true},
		{"a context deadline shorter than the manifest's timeout wins",
			time.Hour, 200 * time.Millisecond, "sleep 30 & echo $! > bg.pid; sleep 30", true},
		{"a passing command's leftover background process is killed at once",
			time.Hour, 0, "sleep 30 & echo $! > bg.pid; echo done", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			if tt.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
				defer cancel()
			}
			start := time.Now()
			rep, err := RunTests(ctx, dir, manifest(tt.timeout, "sh", "-c", tt.script), RunOptions{})
			if err != nil {
				t.Fatalf("RunTests: %v", err)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("RunTests took %v; the group was not killed promptly", took)
			}
			if rep.TimedOut != tt.wantTimedOut || rep.Passed == tt.wantTimedOut {
				t.Errorf("report = %+v, want timed out %v", rep, tt.wantTimedOut)
			}
			if tt.wantTimedOut && rep.ExitCode != -1 {
				t.Errorf("exit code = %d, want -1 (killed)", rep.ExitCode)
			}
			data, err := os.ReadFile(filepath.Join(dir, "bg.pid"))
			if err != nil {
				t.Fatalf("the background process did not start: %v", err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "background process "+strconv.Itoa(pid)+" to die", func() bool { return processGone(pid) })
		})
	}
}

func TestRunTestsScrubsTheEnvironment(t *testing.T) {
	t.Setenv("ORCHESTRATE_TEST_SECRET", "hunter2")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "hunter3")
	m := manifest(time.Minute, "env")
	m.Test.Env = map[string]string{"FROM_MANIFEST": "m", "OVERRIDDEN": "manifest"}
	opts := RunOptions{
		GoCache:    "/cache/go-build",
		GoModCache: "/cache/mod",
		Env:        map[string]string{"ORCHESTRATE_TEST_REDIS_URL": "redis://127.0.0.1:1", "OVERRIDDEN": "opts"},
	}
	rep, err := RunTests(context.Background(), t.TempDir(), m, opts)
	if err != nil || !rep.Passed {
		t.Fatalf("RunTests = %+v, %v", rep, err)
	}
	if strings.Contains(rep.Output, "hunter") {
		t.Errorf("a secret of the worker leaked:\n%s", rep.Output)
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(rep.Output), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	want := map[string]string{
		"LANG": "C.UTF-8", "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOSUMDB": "off", "GOTOOLCHAIN": "local",
		"GOWORK": "off", "CGO_ENABLED": "0", "GOCACHE": "/cache/go-build", "GOMODCACHE": "/cache/mod",
		"FROM_MANIFEST": "m", "OVERRIDDEN": "opts", "ORCHESTRATE_TEST_REDIS_URL": "redis://127.0.0.1:1",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	allowed := map[string]bool{"PATH": true, "HOME": true, "TMPDIR": true, "PWD": true}
	for k := range env {
		if _, ok := want[k]; !ok && !allowed[k] {
			t.Errorf("unexpected variable %s=%s in the test environment", k, env[k])
		}
	}
	home := env["HOME"]
	if home == os.Getenv("HOME") || !strings.HasPrefix(filepath.Base(home), "orchestrate-test-") || env["TMPDIR"] != home {
		t.Errorf("HOME = %q, TMPDIR = %q; want one fresh temporary directory", home, env["TMPDIR"])
	}
	if _, err := os.Stat(home); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary HOME %s was not removed: %v", home, err)
	}
	if goDir := goBinDir(); !strings.HasPrefix(env["PATH"], goDir+":") {
		t.Errorf("PATH = %q, want it to start with the go binary's directory %s", env["PATH"], goDir)
	}
}

func TestRunTestsKeepsTheTailOfLongOutput(t *testing.T) {
	script := `head -c 1048576 /dev/zero | tr '\0' x; echo; echo END`
	rep, err := RunTests(context.Background(), t.TempDir(), manifest(time.Minute, "sh", "-c", script), RunOptions{})
	if err != nil || !rep.Passed {
		t.Fatalf("RunTests = %+v, %v", rep, err)
	}
	if len(rep.Output) > maxOutput+100 || !strings.HasSuffix(rep.Output, "x\nEND\n") || !strings.Contains(rep.Output, "earlier bytes of output dropped") {
		t.Errorf("output of %d bytes starting %q, want the last 256 KiB ending in END", len(rep.Output), rep.Output[:min(80, len(rep.Output))])
	}
}

func TestTailBufferKeepsTheLastBytes(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"short output is kept whole", []string{"ab", "cd"}, "abcd"},
		{"a long write keeps its end", []string{"abcdefgh"}, "[orchestrate: 4 earlier bytes of output dropped]\nefgh"},
		{"many small writes keep the last ones", []string{"ab", "cd", "ef", "gh", "ij", "kl"}, "[orchestrate: 8 earlier bytes of output dropped]\nijkl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &tailBuffer{max: 4}
			for _, w := range tt.writes {
				_, _ = b.Write([]byte(w))
			}
			if got := b.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLastLines(t *testing.T) {
	tests := []struct {
		name, in string
		n        int
		want     string
	}{
		{"fewer lines than asked are returned whole", "a\nb\n", 5, "a\nb"},
		{"more lines than asked keep the last", "a\nb\nc\nd\n", 2, "c\nd"},
		{"a leading newline is dropped with the first line", "\nx", 1, "x"},
		{"empty output stays empty", "", 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lastLines(tt.in, tt.n); got != tt.want {
				t.Errorf("lastLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

// processGone reports whether pid has exited. A zombie counts: in a
// container whose init does not reap orphans, it is dead but still listed.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s", within, what)
		case <-tick.C:
		}
	}
}
