package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/workers"
)

// eventLines are the progress lines of a plain display with their times
// and agents' ids masked, which vary from run to run.
func eventLines(s string) string {
	s = regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d\d\d `).ReplaceAllString(s, "")
	return regexp.MustCompile(`pool-a\d`).ReplaceAllString(s, "pool-aN")
}

func TestWatchFollowsARunningJobToItsEndAndReportsAFinishedOne(t *testing.T) {
	st, flags := sharedServers(t)
	ctx := context.Background()
	startPool(t, st.PoolDeps(zap.NewNop()), workers.Config{MaxAgents: 2, Name: "pool"})
	// One task: the events of a task released by another's completion
	// may come out of order (its "queued" after its "running").
	job := submitDiag(t, st, nap("nap", "1s"))
	// The job runs when watch starts: the nap is not over.
	if js, err := st.Ledger.JobSummary(ctx, job); err != nil || js.Done() {
		t.Fatalf("job %+v (%v) is over before watch began", js, err)
	}
	wantEvents := `job job-created
nap                      queued
nap                      running by pool-aN
nap                      succeeded by pool-aN
job job-succeeded by pool-aN
`
	check := func(t *testing.T, code int, stdout, stderr string) {
		t.Helper()
		if code != 0 {
			t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
		}
		var r JobReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("stdout is not one JSON object (%v):\n%s", err, stdout)
		}
		if r.Job != job || r.State != planner.JobSucceeded || len(r.Tasks) != 1 || r.Tasks[0].Seconds < 1 {
			t.Errorf("report %+v", r)
		}
		if got := eventLines(stderr); got != wantEvents {
			t.Errorf("progress:\n%s\nwant:\n%s", got, wantEvents)
		}
		if ansi.MatchString(stderr) {
			t.Errorf("escape codes in the progress of a pipe: %q", stderr)
		}
	}

	t.Run("a running job is followed until it succeeds", func(t *testing.T) {
		code, stdout, stderr := execute(t, append([]string{"watch", job, "--output", "json"}, flags...)...)
		check(t, code, stdout, stderr)
	})
	t.Run("a finished job is reported at once, with all its events", func(t *testing.T) {
		start := time.Now()
		code, stdout, stderr := execute(t, append([]string{"watch", job, "--output", "json"}, flags...)...)
		check(t, code, stdout, stderr)
		if d := time.Since(start); d > finalEventGrace {
			t.Errorf("took %s", d)
		}
	})
	t.Run("text prints the status report", func(t *testing.T) {
		code, stdout, _ := execute(t, append([]string{"watch", job}, flags...)...)
		if code != 0 || !strings.HasPrefix(stdout, "job "+job+": succeeded\n") {
			t.Errorf("exit %d, stdout:\n%s", code, stdout)
		}
	})
}

func TestWatchExitsOneForAFailedJobAndTwoForAnUnknownOne(t *testing.T) {
	st, flags := sharedServers(t)
	startPool(t, st.PoolDeps(zap.NewNop()), workers.Config{MaxAgents: 1, Name: "pool"})
	job := submitDiag(t, st, planner.Subtask{ID: "doomed", Title: "Fail for good", Role: specialists.RoleDiag, Skill: "fail-permanent"})

	code, stdout, stderr := execute(t, append([]string{"watch", job, "-o", "json"}, flags...)...)
	if code != ExitJobFailed {
		t.Errorf("exit %d, want %d\nstderr:\n%s", code, ExitJobFailed, stderr)
	}
	var r JobReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || r.State != planner.JobFailed || r.Tasks[0].State != planner.StateDead {
		t.Errorf("report (%v):\n%s", err, stdout)
	}
	if !strings.Contains(eventLines(stderr), "doomed                   dead by pool-aN: ") ||
		!strings.Contains(stderr, "orchestrate: job failed: job "+job+" is failed\n") {
		t.Errorf("stderr:\n%s", stderr)
	}

	code, stdout, stderr = execute(t, append([]string{"watch", "no-such-job"}, flags...)...)
	if code != ExitUsage || stdout != "" || !strings.Contains(stderr, "no-such-job") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestAgentsAndWatchFlagsBecomeOptions(t *testing.T) {
	agents := func(f *Factory, got *any) *cobra.Command {
		return NewCmdAgents(f, func(_ context.Context, o *AgentsOptions) error { *got = *o; return nil })
	}
	watch := func(f *Factory, got *any) *cobra.Command {
		return NewCmdWatch(f, func(_ context.Context, o *WatchOptions) error { *got = *o; return nil })
	}
	cases := []struct {
		name string
		cmd  func(*Factory, *any) *cobra.Command
		args []string
		want string
		err  string
	}{
		{"agents prints text by default", agents, []string{"agents"}, "{text}", ""},
		{"agents takes wide", agents, []string{"agents", "-o", "wide"}, "{wide}", ""},
		{"agents takes json", agents, []string{"agents", "--output", "json"}, "{json}", ""},
		{"agents refuses yaml", agents, []string{"agents", "-o", "yaml"}, "", `--output "yaml": want text, wide or json`},
		{"agents takes no argument", agents, []string{"agents", "x"}, "", "unknown command"},
		{"watch takes the job", watch, []string{"watch", "j1", "-o", "json"}, "{j1 json}", ""},
		{"watch needs a job", watch, []string{"watch"}, "", "accepts 1 arg"},
		{"watch refuses wide", watch, []string{"watch", "j1", "-o", "wide"}, "", `--output "wide"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, _, _ := testFactory()
			var got any
			err := parse(t, f, c.cmd(f, &got), c.args...)
			checkParse(t, err, c.err)
			if c.err == "" && fmt.Sprint(got) != c.want {
				t.Errorf("options = %v, want %s", got, c.want)
			}
		})
	}
}
