package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// sessionTerminal makes a stream pass for a terminal, so that a session can
// be held over a pipe or a buffer.
type sessionTerminal struct{ io.Reader }

func (sessionTerminal) IsTerminal() bool { return true }

type sessionTerminalOut struct{ *bytes.Buffer }

func (sessionTerminalOut) IsTerminal() bool { return true }

func TestPlanFlagsBecomeOptions(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		terminal bool
		want     PlanOptions
		err      string
	}{
		{"a goal with answers, a name and --yes", []string{"plan", "g", "--answers", "volume=2M,latency=50ms", "--yes", "--name", "churn-a"}, false,
			PlanOptions{Goal: "g", Answers: map[string]string{"volume": "2M", "latency": "50ms"}, Yes: true, Name: "churn-a", Output: "text", Planner: "auto"}, ""},
		{"an import exported, executed and followed", []string{"plan", "--import", "a.yaml", "--export", "b.yaml", "-y", "--execute", "--wait", "-o", "json"}, false,
			PlanOptions{Import: "a.yaml", Export: "b.yaml", Yes: true, Execute: true, Wait: true, Output: "json", Planner: "auto"}, ""},
		{"a terminal holds a session without --yes", []string{"plan", "g"}, true,
			PlanOptions{Goal: "g", Output: "text", Interactive: true, Planner: "auto"}, ""},
		{"without a terminal --yes is required", []string{"plan", "g"}, false, PlanOptions{}, "pass --yes to accept the plan, and --answers volume=1M"},
		{"an import without a terminal needs --yes", []string{"plan", "--import", "a.yaml"}, false, PlanOptions{}, "--yes to save the imported plan"},
		{"an unknown answer is refused by its key", []string{"plan", "g", "--answers", "speed=fast", "--yes"}, false, PlanOptions{}, `unknown question "speed"`},
		{"a goal and an import are refused", []string{"plan", "g", "--import", "a.yaml", "--yes"}, false, PlanOptions{}, "not both"},
		{"nothing to plan is refused", []string{"plan", "--yes"}, false, PlanOptions{}, "say what to plan"},
		{"a blank goal is refused", []string{"plan", " ", "--yes"}, false, PlanOptions{}, "say what to plan"},
		{"answers for an import are refused", []string{"plan", "--import", "a.yaml", "--answers", "volume=1M", "--yes"}, false, PlanOptions{}, "already decided"},
		{"a name that is no id is refused", []string{"plan", "g", "--yes", "--name", "my plan"}, false, PlanOptions{}, `--name "my plan"`},
		{"--wait without --execute is refused", []string{"plan", "g", "--yes", "--wait"}, false, PlanOptions{}, "add --execute"},
		{"an unknown output is refused", []string{"plan", "g", "--yes", "-o", "yaml"}, false, PlanOptions{}, `--output "yaml"`},
		{"two goals are refused", []string{"plan", "a", "b", "--yes"}, false, PlanOptions{}, "accepts at most 1 arg"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, out, _ := testFactory()
			if c.terminal {
				f.IO.In, f.IO.Out = sessionTerminal{f.IO.In}, sessionTerminalOut{out}
			}
			var got *PlanOptions
			err := parse(t, f, NewCmdPlan(f, func(_ context.Context, o *PlanOptions) error { got = o; return nil }), c.args...)
			checkParse(t, err, c.err)
			if c.err == "" && !reflect.DeepEqual(*got, c.want) {
				t.Errorf("options = %+v, want %+v", *got, c.want)
			}
		})
	}
}

func TestPlansFlagsBecomeOptions(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
		err  string
	}{
		{"a table by default", []string{"plans"}, "table", ""},
		{"json on request", []string{"plans", "-o", "json"}, "json", ""},
		{"text is a table", []string{"plans", "--output", "text"}, "text", ""},
		{"yaml is refused", []string{"plans", "-o", "yaml"}, "", `--output "yaml": want table or json`},
		{"arguments are refused", []string{"plans", "x"}, "", "unknown command"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, _, _ := testFactory()
			var got *PlansOptions
			err := parse(t, f, NewCmdPlans(f, func(_ context.Context, o *PlansOptions) error { got = o; return nil }), c.args...)
			checkParse(t, err, c.err)
			if c.err == "" && got.Output != c.want {
				t.Errorf("output = %q, want %q", got.Output, c.want)
			}
		})
	}
}

// executeWithin runs the command line in-process with in as its input and
// fails the test if it does not return within the timeout.
func executeWithin(t *testing.T, timeout time.Duration, in io.Reader, args ...string) (int, string, string) {
	t.Helper()
	type result struct {
		code        int
		out, errOut string
	}
	done := make(chan result, 1)
	go func() {
		var out, errOut bytes.Buffer
		code := Execute(args, IOStreams{In: in, Out: &out, ErrOut: &errOut})
		done <- result{code, out.String(), errOut.String()}
	}()
	select {
	case r := <-done:
		return r.code, r.out, r.errOut
	case <-time.After(timeout):
		t.Fatalf("orchestrate %s did not return within %s", strings.Join(args, " "), timeout)
		return 0, "", ""
	}
}

func historyActions(p *planner.Plan) []string {
	var actions []string
	for _, c := range p.History {
		actions = append(actions, c.Action)
	}
	return actions
}

func TestPlanWithoutASessionSavesExportsImportsAndLists(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	n := testenv.StartNATS(t)
	r := testenv.StartRedis(t)
	servers := []string{"--nats", n.URL(), "--redis", r.URL, "--prefix", r.Prefix}
	plans := planner.NewPlans(r.Client(t), r.Prefix)
	dir := t.TempDir()

	t.Run("--yes saves the goal's plan under --name with the answers given", func(t *testing.T) {
		code, stdout, stderr := execute(t, append([]string{"plan", churnGoal, "--answers", "volume=2M,latency=50ms,retraining=daily,infra=kubernetes",
			"--yes", "--name", "churn-ci"}, servers...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if want := "saved plan churn-ci: 13 subtasks in 4 phases\nexecute it with: orchestrate execute-plan churn-ci\n"; stdout != want {
			t.Errorf("stdout %q, want %q", stdout, want)
		}
		p, err := plans.Load(ctx, "churn-ci")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"volume": "2M", "latency": "50ms", "retraining": "daily", "infra": "kubernetes"}
		if p.Name != "churn-ci" || p.Goal != churnGoal || !reflect.DeepEqual(p.Answers, want) {
			t.Errorf("plan %s for %q with answers %v", p.Name, p.Goal, p.Answers)
		}
		if st, _ := p.Subtask("deployment"); st.Title != "Model serving on Kubernetes" || st.Params["latency_ms"] != "50" {
			t.Errorf("the answers did not shape the plan: deployment %q with latency %s", st.Title, st.Params["latency_ms"])
		}
		if got := historyActions(p); !slices.Equal(got, []string{planner.ActionCreated, planner.ActionApproved}) {
			t.Errorf("history %v", got)
		}
	})

	exported := filepath.Join(dir, "ml-churn-system.yaml")
	t.Run("--export without servers writes a plan file and nothing else", func(t *testing.T) {
		code, stdout, stderr := execute(t, "plan", churnGoal, "--yes", "--export", exported)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if want := "wrote " + exported + "\nexecute it with: orchestrate submit --plan " + exported + "\n"; stdout != want {
			t.Errorf("stdout %q, want %q", stdout, want)
		}
		data, err := os.ReadFile(exported)
		if err != nil {
			t.Fatal(err)
		}
		p, err := planner.ReadYAML(data)
		if err != nil {
			t.Fatalf("ReadYAML refuses the exported file: %v", err)
		}
		if err := p.Validate(stack.Skills(nil, nil)); err != nil || p.Name != "ml-churn-system" || len(p.Subtasks()) != 13 {
			t.Errorf("exported plan %s with %d subtasks: %v", p.Name, len(p.Subtasks()), err)
		}
		if names, _ := plans.Names(ctx); slices.Contains(names, "ml-churn-system") {
			t.Error("the plan was saved without servers being configured")
		}
	})

	t.Run("--import --yes saves the file's plan", func(t *testing.T) {
		code, stdout, stderr := execute(t, append([]string{"plan", "--import", exported, "--yes", "--name", "imported"}, servers...)...)
		if code != 0 || !strings.Contains(stdout, "saved plan imported: 13 subtasks") {
			t.Fatalf("exit %d, stdout %q: %s", code, stdout, stderr)
		}
		p, err := plans.Load(ctx, "imported")
		if err != nil {
			t.Fatal(err)
		}
		want := []string{planner.ActionCreated, planner.ActionApproved, planner.ActionImported, planner.ActionApproved}
		if got := historyActions(p); !slices.Equal(got, want) {
			t.Errorf("history %v, want %v", got, want)
		}
	})

	t.Run("plans lists the saved plans", func(t *testing.T) {
		code, stdout, stderr := execute(t, append([]string{"plans", "-o", "json"}, servers...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var got []SavedPlan
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatalf("%v: %s", err, stdout)
		}
		want := []SavedPlan{{"churn-ci", churnGoal, 13}, {"imported", churnGoal, 13}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("plans %+v, want %+v", got, want)
		}
		_, table, _ := execute(t, append([]string{"plans"}, servers...)...)
		if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 3 ||
			!strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[1], "churn-ci  ") || !strings.HasSuffix(lines[2], churnGoal) {
			t.Errorf("table:\n%s", table)
		}
	})

	t.Run("--execute submits the saved plan and prints the job id", func(t *testing.T) {
		code, stdout, stderr := execute(t, append([]string{"plan", churnGoal, "--yes", "--execute", "--name", "churn-now"}, servers...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		job := strings.TrimSpace(stdout)
		if !strings.HasPrefix(job, "churn-now-") || !strings.Contains(stderr, "saved plan churn-now") {
			t.Fatalf("stdout %q, stderr %q", stdout, stderr)
		}
		js, err := planner.NewLedger(r.Client(t), r.Prefix).JobSummary(ctx, job)
		if err != nil || js.Total != 13 {
			t.Fatalf("job %s: %+v %v", job, js, err)
		}
		if _, err := plans.Load(ctx, "churn-now"); err != nil {
			t.Error(err)
		}
	})
}

func TestPlanRefusesBadInputQuicklyAndSavesNothing(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	badFile := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badFile, []byte("name: x\nphases:\n  - name: p\n    subtasks:\n      - id: a\n        role: nobody\n        skill: s\n        depends_on: [b]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A pipe that is never written to: a prompt on it would hang.
	silent, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(); silent.Close() })

	cases := []struct {
		name string
		in   io.Reader
		args []string
		want []string
	}{
		{"no terminal and no --yes", silent, []string{"plan", churnGoal}, []string{"--yes", "--answers"}},
		{"an imported file without a terminal or --yes", silent, []string{"plan", "--import", badFile}, []string{"--yes"}},
		{"a bad answer", nil, []string{"plan", churnGoal, "--answers", "latency=fast", "--yes"}, []string{`answer latency="fast"`, "100ms"}},
		{"an unknown question", nil, []string{"plan", churnGoal, "--answers", "velocity=high", "--yes"}, []string{`"velocity"`, "volume, latency, retraining, infra"}},
		{"a goal no scenario matches", nil, []string{"plan", "Make me a sandwich", "--yes"}, []string{"Make me a sandwich", "churn"}},
		{"a plan file with an unknown dependency", nil, []string{"plan", "--import", badFile, "--yes"}, []string{badFile, "line 8", `unknown subtask "b"`}},
		{"a missing plan file", nil, []string{"plan", "--import", filepath.Join(dir, "nope.yaml"), "--yes"}, []string{"--import", "nope.yaml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			if in == nil {
				in = strings.NewReader("")
			}
			export := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".yaml")
			code, stdout, stderr := executeWithin(t, 10*time.Second, in, append(c.args, "--export", export)...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", code, ExitUsage, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not mention %q", stderr, w)
				}
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
			if _, err := os.Stat(export); err == nil {
				t.Errorf("%s was written", export)
			}
		})
	}
}

// A session held over a pipe passed off as a terminal: the transcript of
// refusals, and quitting saves nothing.
func TestPlanSessionRefusesWhatBreaksThePlanAndQuitsWithoutSaving(t *testing.T) {
	isolate(t)
	export := filepath.Join(t.TempDir(), "plan.yaml")
	run := func(input string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Execute([]string{"plan", churnGoal, "--export", export},
			IOStreams{In: sessionTerminal{strings.NewReader(input)}, Out: sessionTerminalOut{&out}, ErrOut: &errOut})
		return code, out.String(), errOut.String()
	}
	code, out, stderr := run(strings.Join([]string{"", "", "", "", // the questions' defaults
		"x",
		"r", "collect",
		"r", "scaffold",
		"r", "nothing", "",
		"r", "dashboards",
		"q", "n",
		"q", "y"}, "\n") + "\n")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, out)
	}
	for _, want := range []string{
		"Data volume and velocity (customers) [1M]: Latency requirement [100ms]: Retraining frequency (daily, weekly or monthly) [weekly]: Existing infrastructure (aws or kubernetes) [aws]: \n",
		"Plan ml-churn-system: 13 subtasks in 4 phases\n",
		"1. Data Foundation (days 1-2)\n   scaffold          ml-systems-architect      normal  Project scaffold and architecture decisions\n",
		"   features          data-pipeline-engineer    normal  Feature engineering pipeline and training/validation/test splits\n                     after scaffold\n",
		"   collect           collector                 normal  Assemble the project and run its tests\n                     after every other subtask\n",
		"p or s approves and saves the plan; q quits without saving\n",
		`  unknown choice "x": type a, m, r, p, s or q` + "\n",
		"refused: invalid plan: subtask collect assembles and tests the project; it cannot be removed\nthe plan is unchanged\n",
		"refused: invalid plan: subtask scaffold is needed by features, ab-testing; change their dependencies first\nthe plan is unchanged\n",
		`Subtask to remove (empty cancels):   no subtask "nothing" (subtasks: scaffold, features,`,
		"removed dashboards\n\nPlan ml-churn-system: 12 subtasks in 4 phases\n",
		"Discard 1 change? (y or n) [n]: [a]dd",
		"Discard 1 change? (y or n) [n]: quit: the plan was not saved\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the session does not show %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(export); err == nil {
		t.Error("quitting wrote the plan file")
	}

	code, _, stderr = run("\n\n")
	if code == 0 || !strings.Contains(stderr, "the input ended before the plan was approved") {
		t.Errorf("input that ends mid-session: exit %d, %s", code, stderr)
	}
}

// console is the far end of a pseudo-terminal, read expect-style.
type console struct {
	t    *testing.T
	ptmx *os.File
	mu   sync.Mutex
	buf  bytes.Buffer
	seen int           // how much of buf expect has consumed
	more chan struct{} // a read added to buf
}

func newConsole(t *testing.T, ptmx *os.File) *console {
	c := &console{t: t, ptmx: ptmx, more: make(chan struct{}, 1)}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			c.mu.Lock()
			c.buf.Write(b[:n])
			c.mu.Unlock()
			select {
			case c.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return c
}

// expect waits until the terminal shows s after what was expected before.
func (c *console) expect(s string) {
	c.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		c.mu.Lock()
		shown := c.buf.String()
		if i := strings.Index(shown[c.seen:], s); i >= 0 {
			c.seen += i + len(s)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		select {
		case <-c.more:
		case <-deadline:
			c.t.Fatalf("the terminal does not show %q after:\n%s", s, shown[c.seen:])
		}
	}
}

// answer waits for the prompt and types the line.
func (c *console) answer(prompt, line string) {
	c.t.Helper()
	c.expect(prompt)
	if _, err := c.ptmx.Write([]byte(line + "\r")); err != nil {
		c.t.Fatal(err)
	}
}

func (c *console) transcript() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.ReplaceAll(c.buf.String(), "\r\n", "\n")
}

// startOnPTY runs the orchestrate command (this test binary) with a
// pseudo-terminal as its input and output.
func startOnPTY(t *testing.T, args ...string) (*exec.Cmd, *console) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "ORCHESTRATE_TEST_AS_MAIN=1", "TERM=dumb", "NO_COLOR=1")
	ptmx, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = ptmx.Close() })
	c := newConsole(t, ptmx)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("transcript:\n%s", c.transcript())
		}
	})
	return cmd, c
}

// waitExit waits for the command to exit and returns its exit code.
func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(15 * time.Second):
		t.Fatal("the command did not exit")
		return -1
	}
}

func TestAnInterruptEndsTheSessionAtAPrompt(t *testing.T) {
	isolate(t)
	export := filepath.Join(t.TempDir(), "plan.yaml")
	cmd, c := startOnPTY(t, "plan", churnGoal, "--export", export)
	c.expect("Data volume and velocity (customers) [1M]: ")
	if _, err := c.ptmx.Write([]byte{3}); err != nil { // ^C
		t.Fatal(err)
	}
	if code := waitExit(t, cmd); code != ExitInterrupted {
		t.Errorf("exit %d, want %d", code, ExitInterrupted)
	}
	if _, err := os.Stat(export); err == nil {
		t.Error("an interrupted session wrote the plan file")
	}
}

// The planning session on a real pseudo-terminal: the orchestrate command
// (this test binary) runs with the terminal as its input and output.
func TestPlanSessionOnAPseudoTerminal(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	n := testenv.StartNATS(t)
	r := testenv.StartRedis(t)
	cmd, c := startOnPTY(t, "plan", churnGoal, "--nats", n.URL(), "--redis", r.URL, "--prefix", r.Prefix)
	c.expect("Planning: " + churnGoal)
	c.answer("Data volume and velocity (customers) [1M]: ", "")
	c.answer("Latency requirement [100ms]: ", "fast")
	c.expect(`answer latency="fast": want a latency such as 100ms`)
	c.answer("Latency requirement [100ms]: ", "50ms")
	c.answer("Retraining frequency (daily, weekly or monthly) [weekly]: ", "daily")
	c.answer("Existing infrastructure (aws or kubernetes) [aws]: ", "")
	c.expect("Plan ml-churn-system: 13 subtasks in 4 phases")
	c.expect("4. Monitoring & Operations (days 7)")

	// Add a subtask: title, role (the default the title's words choose),
	// skill, dependencies, priority, phase.
	c.answer("[a]dd [m]odify [r]emove [p]roceed [s]ave [q]uit: ", "a")
	c.answer("Title of the new subtask (empty cancels): ", "Champion/challenger comparison report")
	c.answer("Role [data-science-analyst]: ", "")
	c.answer("[model-evaluation]: ", "")
	c.answer("Depends on (ids separated by spaces, - for none) [-]: ", "model-evaluation nowhere")
	c.expect(`no subtask "nowhere"`)
	c.answer("Depends on (ids separated by spaces, - for none) [-]: ", "model-evaluation")
	c.answer("Priority (high, normal or low) [normal]: ", "urgent")
	c.expect(`unknown priority "urgent"`)
	c.answer("Priority (high, normal or low) [normal]: ", "high")
	c.answer("Phase (1-4, or a new phase's name) [4]: ", "2")
	c.expect("added champion-challenger-comparison-report")
	c.expect("Plan ml-churn-system: 14 subtasks in 4 phases")

	// An unknown role is refused with the reason, and the plan stays as
	// it was.
	c.answer("[a]dd [m]odify [r]emove [p]roceed [s]ave [q]uit: ", "m")
	c.answer("Subtask to modify (empty cancels): ", "serving")
	c.answer("Title [Real-time inference with real-time feature computation]: ", "")
	c.answer("Role [backend-systems-engineer]: ", "wizard")
	c.expect(`unknown role "wizard" (known: aws-cloud-architect, backend-systems-engineer,`)
	c.answer("Role [backend-systems-engineer]: ", "")
	c.answer("[serving]: ", "")
	c.answer("[train-models feature-store ab-testing]: ", "")
	c.answer("Priority (high, normal or low) [normal]: ", "")
	c.expect("no changes to serving")

	// Modify a subtask's dependencies (a cycle is refused) and priority.
	c.answer("[a]dd [m]odify [r]emove [p]roceed [s]ave [q]uit: ", "m")
	c.answer("Subtask to modify (empty cancels): ", "load-test")
	c.answer("Title [Load and integration tests]: ", "")
	c.answer("Role [backend-systems-engineer]: ", "")
	c.answer("[load-test]: ", "")
	c.answer("Depends on (ids separated by spaces, - for none) [serving]: ", "serving collect")
	c.expect("dependency cycle: ")
	c.answer("Depends on (ids separated by spaces, - for none) [serving]: ", "serving champion-challenger-comparison-report")
	c.answer("Priority (high, normal or low) [normal]: ", "High")
	c.expect("modified load-test: depends on [serving] -> [serving champion-challenger-comparison-report]; priority normal -> high")

	c.answer("[a]dd [m]odify [r]emove [p]roceed [s]ave [q]uit: ", "p")
	c.answer("Save as [ml-churn-system]: ", "churn tty")
	c.expect(`"churn tty": a name is 1-128 letters`)
	c.answer("Save as [ml-churn-system]: ", "churn-tty")
	c.expect("saved plan churn-tty: 14 subtasks in 4 phases")
	c.expect("execute it with: orchestrate execute-plan churn-tty")

	if code := waitExit(t, cmd); code != 0 {
		t.Fatalf("the session ended with exit code %d", code)
	}
	if strings.Contains(c.transcript(), "\x1b[") {
		t.Error("the session wrote escape codes")
	}

	p, err := planner.NewPlans(r.Client(t), r.Prefix).Load(ctx, "churn-tty")
	if err != nil {
		t.Fatal(err)
	}
	if p.Answers["latency"] != "50ms" || p.Answers["retraining"] != "daily" || p.Answers["volume"] != "1M" {
		t.Errorf("answers %v", p.Answers)
	}
	added, ok := p.Subtask("champion-challenger-comparison-report")
	if !ok || added.Role != specialists.RoleDataScience || added.Skill != "model-evaluation" || added.Priority != broker.High ||
		!slices.Equal(added.DependsOn, []string{"model-evaluation"}) || !slices.ContainsFunc(p.Phases[1].Subtasks, func(s planner.Subtask) bool { return s.ID == added.ID }) {
		t.Errorf("added subtask %+v (in Model Development: %v)", added, p.Phases[1].Subtasks)
	}
	if added.Params["latency_ms"] != "50" || added.Params["retraining"] != "daily" || added.Params["data"] != "" {
		t.Errorf("the added subtask does not share the plan's params: %v", added.Params)
	}
	if lt, _ := p.Subtask("load-test"); lt.Priority != broker.High || !slices.Equal(lt.DependsOn, []string{"serving", added.ID}) {
		t.Errorf("load-test %+v", lt)
	}
	if sv, _ := p.Subtask("serving"); sv.Role != specialists.RoleBackend || sv.Priority != broker.Normal {
		t.Errorf("the refused modify changed serving: %+v", sv)
	}
	if col, _ := p.Subtask("collect"); !slices.Contains(col.DependsOn, added.ID) {
		t.Errorf("the collector does not wait for the added subtask: %v", col.DependsOn)
	}
	want := []string{planner.ActionCreated, planner.ActionAdded, planner.ActionModified, planner.ActionApproved}
	if got := historyActions(p); !slices.Equal(got, want) {
		t.Errorf("history %v, want %v", got, want)
	}
	if err := p.Validate(stack.Skills(nil, nil)); err != nil {
		t.Error(err)
	}
	if testing.Verbose() {
		t.Logf("transcript:\n%s", c.transcript())
	}
}
