package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/planner"
)

func testFactory() (*Factory, *bytes.Buffer, *bytes.Buffer) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	return &Factory{IO: IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut}}, out, errOut
}

// parse runs cmd under a root, as main would, so that persistent flags,
// the environment and the config file apply.
func parse(t *testing.T, f *Factory, cmd *cobra.Command, args ...string) error {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // no user config file
	root := &cobra.Command{Use: "orchestrate", SilenceErrors: true, SilenceUsage: true,
		PersistentPreRunE: func(c *cobra.Command, _ []string) error { return applyEnvAndConfig(c) }}
	root.PersistentFlags().StringVar(&f.Globals.NATS, "nats", "", "")
	root.PersistentFlags().StringVar(&f.Globals.Config, "config", "", "")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.AddCommand(cmd)
	root.SetArgs(args)
	return root.ExecuteContext(context.Background())
}

func TestRunFlagsBecomeOptions(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want RunOptions
		err  string
	}{
		{"a goal with every flag", []string{"run", "goal", "--max-agents", "3", "--out", "d", "-o", "json", "--grace", "5s"},
			RunOptions{Goal: "goal", MaxAgents: 3, Out: "d", Output: "json", Grace: 5 * time.Second, Data: DataOptions{Seed: 42}}, ""},
		{"no goal serves the given roles", []string{"run", "--roles", "diag,collector"},
			RunOptions{MaxAgents: 4, Output: "text", Roles: []string{"diag", "collector"}, Grace: 30 * time.Second, Data: DataOptions{Seed: 42}}, ""},
		{"synthetic rows and a seed", []string{"run", "g", "--out", "d", "--rows", "1000000", "--seed", "7"},
			RunOptions{Goal: "g", MaxAgents: 4, Out: "d", Output: "text", Grace: 30 * time.Second, Data: DataOptions{Rows: 1000000, Seed: 7}}, ""},
		{"a target without data is refused", []string{"run", "g", "--out", "d", "--target", "Churned"}, RunOptions{}, "--target Churned needs --data"},
		{"positive without data is refused", []string{"run", "g", "--out", "d", "--positive", "yes"}, RunOptions{}, "--positive needs --data"},
		{"a goal without --out is refused", []string{"run", "goal"}, RunOptions{}, "--out DIR is required"},
		{"zero agents are refused", []string{"run", "--max-agents", "0"}, RunOptions{}, "--max-agents 0"},
		{"an unknown output is refused", []string{"run", "g", "--out", "d", "-o", "yaml"}, RunOptions{}, `--output "yaml"`},
		{"two goals are refused", []string{"run", "a", "b"}, RunOptions{}, "accepts at most 1 arg"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, _, _ := testFactory()
			var got *RunOptions
			err := parse(t, f, NewCmdRun(f, func(_ context.Context, o *RunOptions) error { got = o; return nil }), c.args...)
			checkParse(t, err, c.err)
			if c.err == "" && fmt.Sprint(*got) != fmt.Sprint(c.want) {
				t.Errorf("options = %+v, want %+v", *got, c.want)
			}
		})
	}
}

func TestWorkerSubmitStatusCollectBenchFlags(t *testing.T) {
	cases := []struct {
		name string
		cmd  func(*Factory, *any) *cobra.Command
		args []string
		want string
		err  string
	}{
		{"worker takes roles and agents", workerCmd, []string{"worker", "--roles", "a,b", "--max-agents", "2"}, "{[a b] 2 30s }", ""},
		{"worker serves endpoints", workerCmd, []string{"worker", "--roles", "a", "--http", ":8080"}, "{[a] 4 30s :8080}", ""},
		{"worker needs roles", workerCmd, []string{"worker"}, "", "--roles is required"},
		{"submit takes the goal", submitCmd, []string{"submit", "g", "--decompose", "--wait", "-o", "json"}, "{g true   normal  true json {    0 42} auto}", ""},
		{"submit chooses the planner", submitCmd, []string{"submit", "g", "--decompose", "--planner", "llm"}, "{g true   normal  false text {    0 42} llm}", ""},
		{"submit to an agent", submitCmd, []string{"submit", "t", "--agent", "ml-systems-architect", "--skill", "scaffold", "--priority", "high"}, "{t false ml-systems-architect scaffold high  false text {    0 42} auto}", ""},
		{"submit a plan file", submitCmd, []string{"submit", "--plan", "p.yaml"}, "{ false   normal p.yaml false text {    0 42} auto}", ""},
		{"submit needs something to do", submitCmd, []string{"submit"}, "", "say what to do"},
		{"submit refuses a bad priority", submitCmd, []string{"submit", "t", "--priority", "urgent"}, "", `--priority "urgent"`},
		{"submit refuses --decompose with --agent", submitCmd, []string{"submit", "t", "--decompose", "--agent", "r"}, "", "use one of them"},
		{"submit refuses a plan file with a text", submitCmd, []string{"submit", "t", "--plan", "p.yaml"}, "", "--plan submits a plan file"},
		{"submit refuses --skill without --agent", submitCmd, []string{"submit", "t", "--skill", "s"}, "", "--skill needs --agent"},
		{"submit refuses --planner without --decompose", submitCmd, []string{"submit", "t", "--planner", "llm"}, "", "add --decompose"},
		{"submit refuses data flags without --decompose", submitCmd, []string{"submit", "t", "--rows", "500"}, "", "apply to --decompose"},
		{"execute-plan takes the name", executeCmd, []string{"execute-plan", "ml-churn-system", "--wait"}, "{ml-churn-system true text}", ""},
		{"execute-plan needs a name", executeCmd, []string{"execute-plan"}, "", "accepts 1 arg"},
		{"status takes the job", statusCmd, []string{"status", "j1"}, "{j1 text}", ""},
		{"collect needs --out", collectCmd, []string{"collect", "j1"}, "", "--out DIR is required"},
		{"collect takes job and out", collectCmd, []string{"collect", "j1", "--out", "d"}, "{j1 d}", ""},
		{"bench has defaults", benchCmd, []string{"bench"}, "{20000 256 1000 5 text }", ""},
		{"bench refuses zero tasks", benchCmd, []string{"bench", "--tasks", "0"}, "", "at least 1"},
		{"an unknown flag is a usage error", benchCmd, []string{"bench", "--fast"}, "", "unknown flag: --fast"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, _, _ := testFactory()
			var got any
			err := parse(t, f, c.cmd(f, &got), c.args...)
			checkParse(t, err, c.err)
			if c.err == "" {
				if s := fmt.Sprint(got); s != c.want {
					t.Errorf("options = %s, want %s", s, c.want)
				}
			}
		})
	}
}

func workerCmd(f *Factory, got *any) *cobra.Command {
	return NewCmdWorker(f, func(_ context.Context, o *WorkerOptions) error { *got = *o; return nil })
}
func submitCmd(f *Factory, got *any) *cobra.Command {
	return NewCmdSubmit(f, func(_ context.Context, o *SubmitOptions) error { *got = *o; return nil })
}
func executeCmd(f *Factory, got *any) *cobra.Command {
	return NewCmdExecutePlan(f, func(_ context.Context, o *ExecutePlanOptions) error { *got = *o; return nil })
}
func statusCmd(f *Factory, got *any) *cobra.Command {
	return NewCmdStatus(f, func(_ context.Context, o *StatusOptions) error { *got = *o; return nil })
}
func collectCmd(f *Factory, got *any) *cobra.Command {
	return NewCmdCollect(f, func(_ context.Context, o *CollectOptions) error { *got = *o; return nil })
}
func benchCmd(f *Factory, got *any) *cobra.Command {
	return NewCmdBench(f, func(_ context.Context, o *BenchOptions) error { *got = *o; return nil })
}

func checkParse(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to contain %q", err, want)
	}
	if ExitCode(err) != ExitUsage {
		t.Errorf("exit code %d, want %d", ExitCode(err), ExitUsage)
	}
}

func TestFlagsWinOverEnvironmentWhichWinsOverTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("max-agents: 7\ngrace: 9s\nnats: nats://from-file:4222\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (*RunOptions, *Factory, error) {
		f, _, _ := testFactory()
		var got *RunOptions
		err := parse(t, f, NewCmdRun(f, func(_ context.Context, o *RunOptions) error { got = o; return nil }), args...)
		return got, f, err
	}
	got, f, err := run("run", "--config", cfg)
	if err != nil || got.MaxAgents != 7 || got.Grace != 9*time.Second || f.Globals.NATS != "nats://from-file:4222" {
		t.Fatalf("from the file: %+v nats=%q %v", got, f.Globals.NATS, err)
	}
	t.Setenv("ORCHESTRATE_MAX_AGENTS", "5")
	t.Setenv("ORCHESTRATE_NATS_URL", "nats://from-env:4222")
	got, f, _ = run("run", "--config", cfg)
	if got.MaxAgents != 5 || got.Grace != 9*time.Second || f.Globals.NATS != "nats://from-env:4222" {
		t.Errorf("the environment did not win over the file: %+v nats=%q", got, f.Globals.NATS)
	}
	got, _, _ = run("run", "--config", cfg, "--max-agents", "2")
	if got.MaxAgents != 2 {
		t.Errorf("the flag did not win: %d", got.MaxAgents)
	}
	t.Setenv("ORCHESTRATE_MAX_AGENTS", "many")
	if _, _, err := run("run", "--config", cfg); err == nil || !strings.Contains(err.Error(), "ORCHESTRATE_MAX_AGENTS") {
		t.Errorf("a bad environment value: %v", err)
	}
}

func TestAConfigFileWithAnUnknownKeyIsRefused(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("max-agnets: 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, _, _ := testFactory()
	err := parse(t, f, NewCmdRun(f, func(context.Context, *RunOptions) error { return nil }), "run", "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "max-agnets") || !strings.Contains(err.Error(), cfg) || ExitCode(err) != ExitUsage {
		t.Fatalf("err = %v", err)
	}
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, ExitOK},
		{"a failed job", fmt.Errorf("%w: job x is failed", ErrJobFailed), ExitJobFailed},
		{"a usage error", usagef("bad flag"), ExitUsage},
		{"an invalid plan", &planner.ValidationError{Problems: []string{"x"}}, ExitUsage},
		{"a goal no scenario matches", fmt.Errorf("plan: %w", planner.ErrNoScenario), ExitUsage},
		{"an unreachable NATS", fmt.Errorf("x: %w", broker.ErrUnreachable), ExitUnreachable},
		{"an unreachable Redis", fmt.Errorf("x: %w", stack.ErrRedisUnreachable), ExitUnreachable},
		{"no servers configured", stack.ErrNoServers, ExitUnreachable},
		{"an interrupt", context.Canceled, ExitInterrupted},
		{"anything else", errors.New("boom"), ExitJobFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ExitCode(c.err); got != c.want {
				t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
			}
		})
	}
}

func TestDeliveryFlagsAreChecked(t *testing.T) {
	isolate(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"jobs", "--max-deliver", "0"}, "--max-deliver 0: want at least 1"},
		{[]string{"jobs", "--max-deliver-role", "data-science-analyst"}, `--max-deliver-role "data-science-analyst": want ROLE=N`},
		{[]string{"jobs", "--max-deliver-role", "data-science-analyst=0"}, "N at least 1"},
		{[]string{"jobs", "--ack-wait", "10ms"}, "--ack-wait 10ms: want at least 100ms"},
	} {
		code, _, stderr := execute(t, c.args...)
		if code != ExitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
	m, err := parseRoleMaxDeliver([]string{"data-science-analyst=2", "collector=1"})
	if err != nil || m["data-science-analyst"] != 2 || m["collector"] != 1 {
		t.Errorf("parsed %v, %v", m, err)
	}
}
