package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/synth"
)

const churnGoal = "Build production ML system for customer churn prediction with real-time inference"

// TestMain lets the test binary act as the orchestrate command, so that
// tests can run it as a separate process and signal it.
func TestMain(m *testing.M) {
	if os.Getenv("ORCHESTRATE_TEST_AS_MAIN") == "1" {
		os.Exit(Execute(os.Args[1:], IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
	}
	os.Exit(m.Run())
}

// isolate keeps the developer's environment and config out of a test.
func isolate(t *testing.T) {
	t.Helper()
	for _, k := range []string{"ORCHESTRATE_NATS_URL", "ORCHESTRATE_REDIS_URL", "ORCHESTRATE_CONFIG", "ORCHESTRATE_PREFIX"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
}

func execute(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(args, IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

// churnCSV writes rows synthetic customers to a CSV file.
func churnCSV(t *testing.T, name string, rows int, seed uint64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	var b bytes.Buffer
	if err := synth.Churn(&b, rows, seed); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The main job, on the embedded default, with the job's own data given as
// files (small ones, to keep the test quick).
func TestTheMainJobRunsOnTheEmbeddedDefault(t *testing.T) {
	isolate(t)
	out := filepath.Join(t.TempDir(), "ml-system")
	train, test := churnCSV(t, "train.csv", 1500, 1), churnCSV(t, "test.csv", 500, 2)
	code, stdout, stderr := execute(t, "run", churnGoal, "--data", train, "--test", test, "--target", "Exited",
		"--out", out, "--max-agents", "4", "--output", "json", "--data-dir", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	var r JobReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	if r.State != planner.JobSucceeded || r.Out != out || r.Tests == nil || !r.Tests.Passed {
		t.Fatalf("report %+v", r)
	}
	roles, workers := map[string]bool{}, map[string]bool{}
	for _, task := range r.Tasks {
		if task.State != planner.StateSucceeded || task.Worker == "" || task.Attempts != 1 {
			t.Errorf("task %+v", task)
		}
		roles[task.Role], workers[task.Worker] = true, true
	}
	for _, role := range []string{specialists.RoleMLArchitect, specialists.RoleDataPipeline, specialists.RoleDataScience,
		specialists.RoleCloudArchitect, specialists.RoleBackend, specialists.RoleCollector} {
		if !roles[role] {
			t.Errorf("no task of role %s", role)
		}
	}
	if len(workers) < 2 {
		t.Errorf("only %d distinct agents did work: %v", len(workers), workers)
	}
	for _, f := range []string{"orchestrate.yaml", "go.mod", "go.sum", "models/serving/inference_pipeline.go", ".orchestrate/test-report.json",
		"artifacts/models/metrics.json", "artifacts/models/gbdt.onnx", "models/training/cmd/train/main.go",
		"feature-engineering/pipelines/user_features.go", "infrastructure/sagemaker/endpoints.yaml"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("tree lacks %s: %v", f, err)
		}
	}
	if r.Tests.Packages < 10 {
		t.Errorf("the tests covered %d packages, want the generated project's", r.Tests.Packages)
	}
	if len(r.Phases) != 4 || r.Phases[1].Name != "Model Development" || r.Phases[1].Seconds <= 0 {
		t.Errorf("phases %+v, want the plan's four with their wall times", r.Phases)
	}
	readme, err := os.ReadFile(filepath.Join(out, "models/training/README.md"))
	if err != nil || !strings.Contains(string(readme), "-data train.csv -test test.csv") {
		t.Errorf("models/training/README.md does not give the command that reproduces the models (%v):\n%s", err, readme)
	}
}

func TestBadInputGetsAClearErrorAndWritesNothing(t *testing.T) {
	isolate(t)
	n := testenv.StartNATS(t)
	r := testenv.StartRedis(t)
	servers := []string{"--nats", n.URL(), "--redis", r.URL, "--prefix", r.Prefix}
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	csvFile := churnCSV(t, "customers.csv", 200, 3)
	full := filepath.Join(dir, "full")
	_ = os.MkdirAll(filepath.Join(full, "x"), 0o755)

	cases := []struct {
		name   string
		args   []string
		code   int
		want   []string
		absent string // a path that must not exist afterwards
	}{
		{"a goal no scenario matches", []string{"run", "Make me a sandwich", "--out", filepath.Join(dir, "o1")}, ExitUsage, []string{"Make me a sandwich", "churn"}, filepath.Join(dir, "o1")},
		{"an --out under a file", []string{"run", churnGoal, "--out", filepath.Join(file, "out")}, ExitUsage, []string{"--out", file}, ""},
		{"an --out that is not empty", []string{"run", churnGoal, "--out", full}, ExitUsage, []string{"--out", full, "not an empty directory"}, ""},
		{"an unreachable NATS", []string{"submit", churnGoal, "--decompose", "--nats", "nats://127.0.0.1:1", "--redis", r.URL}, ExitUnreachable, []string{"nats://127.0.0.1:1"}, ""},
		{"an unreachable Redis", []string{"submit", churnGoal, "--decompose", "--nats", n.URL(), "--redis", "redis://127.0.0.1:1"}, ExitUnreachable, []string{"redis://127.0.0.1:1"}, ""},
		{"no servers for a shared command", []string{"submit", churnGoal, "--decompose"}, ExitUnreachable, []string{"orchestrate up"}, ""},
		{"an unknown role for a worker", append([]string{"worker", "--roles", "wizard"}, servers...), ExitUsage, []string{`unknown role "wizard"`}, ""},
		{"an unknown job", append([]string{"status", "no-such-job"}, servers...), ExitUsage, []string{"no such job", "no-such-job"}, ""},
		{"an empty goal", []string{"run", "", "--out", filepath.Join(dir, "o2")}, ExitUsage, []string{"goal"}, filepath.Join(dir, "o2")},
		{"a missing data file", []string{"run", churnGoal, "--data", filepath.Join(dir, "nope.csv"), "--target", "Exited", "--out", filepath.Join(dir, "o3")}, ExitUsage, []string{"--data", "nope.csv"}, filepath.Join(dir, "o3")},
		{"a target the data lacks", []string{"run", churnGoal, "--data", csvFile, "--target", "Churned", "--out", filepath.Join(dir, "o4")}, ExitUsage, []string{"--data", `no column "Churned"`, "CustomerId"}, filepath.Join(dir, "o4")},
		{"data without a target", []string{"run", churnGoal, "--data", csvFile, "--out", filepath.Join(dir, "o5")}, ExitUsage, []string{"--target"}, filepath.Join(dir, "o5")},
		{"a test file without data", []string{"run", churnGoal, "--test", csvFile, "--out", filepath.Join(dir, "o6")}, ExitUsage, []string{"--test", "--data"}, filepath.Join(dir, "o6")},
		{"rows with data", []string{"run", churnGoal, "--data", csvFile, "--target", "Exited", "--rows", "5000", "--out", filepath.Join(dir, "o7")}, ExitUsage, []string{"--rows", "--data"}, filepath.Join(dir, "o7")},
		{"too few rows", []string{"run", churnGoal, "--rows", "10", "--out", filepath.Join(dir, "o8")}, ExitUsage, []string{"--rows 10"}, filepath.Join(dir, "o8")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			code, _, stderr := execute(t, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, c.code, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not mention %q", stderr, w)
				}
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s, want under 10s", d)
			}
			if c.absent != "" {
				if _, err := os.Stat(c.absent); err == nil {
					t.Errorf("%s was written", c.absent)
				}
			}
		})
	}
}

// TestSIGTERMDuringAJobLosesNoTask runs workers as separate processes:
// the first is terminated mid-job, exits 0 after handing its tasks back,
// and a second one finishes the job.
func TestSIGTERMDuringAJobLosesNoTask(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	n := testenv.StartNATS(t)
	r := testenv.StartRedis(t)
	st, err := stack.Open(ctx, stack.Options{NATSURL: n.URL(), RedisURL: r.URL, Prefix: r.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Broker.EnsureTopology(ctx, st.Skills.Roles()); err != nil {
		t.Fatal(err)
	}
	var subs []planner.Subtask
	for i := range 20 {
		subs = append(subs, planner.Subtask{ID: fmt.Sprintf("s%d", i), Title: "sleep", Role: specialists.RoleDiag, Skill: "sleep",
			Params: map[string]string{"duration": "300ms"}})
	}
	job, err := st.Submitter().Submit(ctx, &planner.Plan{Name: "sigterm", Goal: "test", Phases: []planner.Phase{{Name: "all", Subtasks: subs}}})
	if err != nil {
		t.Fatal(err)
	}

	worker := func(name string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], "worker", "--roles", "diag", "--max-agents", "3", "--grace", "50ms",
			"--nats", n.URL(), "--redis", r.URL, "--prefix", r.Prefix)
		cmd.Env = append(os.Environ(), "ORCHESTRATE_TEST_AS_MAIN=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
		return cmd, &stderr
	}
	first, stderr := worker("first")
	testenv.Eventually(t, 20*time.Second, "the first worker to run tasks", func() bool {
		js, err := st.Ledger.JobSummary(ctx, job)
		return err == nil && js.Succeeded >= 3
	})
	if err := first.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- first.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the terminated worker exited with %v\n%s", err, stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the worker did not exit within 10s of SIGTERM\n%s", stderr)
	}
	mid, _ := st.Ledger.JobSummary(ctx, job)
	if mid.Succeeded == len(subs) {
		t.Fatal("the job finished before SIGTERM; the test proves nothing")
	}

	worker("second")
	var js *planner.JobStatus
	testenv.Eventually(t, 30*time.Second, "a restarted worker to finish the job", func() bool {
		js, err = st.Ledger.JobSummary(ctx, job)
		return err == nil && js.Done()
	})
	if js.State != planner.JobSucceeded || js.Succeeded != len(subs) {
		t.Fatalf("job %s with %d of %d succeeded", js.State, js.Succeeded, len(subs))
	}
	files, err := st.Store.Files(ctx, job)
	if err != nil || len(files) != len(subs) {
		t.Errorf("%d artifacts (%v), want one per task", len(files), err)
	}
	s, _ := st.Broker.JetStream().Stream(ctx, broker.TasksStream)
	testenv.Eventually(t, 5*time.Second, "ORCH_TASKS to be empty", func() bool {
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs == 0
	})
}
