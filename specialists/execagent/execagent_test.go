package execagent_test

import (
	"context"
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/execagent"
)

// script writes a shell script agent and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nset -eu\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// request is a subtask whose upstream task "design" wrote two files.
func request(t *testing.T) *specialists.Request {
	t.Helper()
	r := testenv.StartRedis(t)
	store := artifacts.NewStore(r.Client(t), r.Prefix, artifacts.Limits{})
	if _, err := store.Record(context.Background(), "job-1", "design", []artifacts.File{
		{Path: "docs/design.md", Data: []byte("# Design\nuse a queue\n")},
		{Path: "docs/keep.md", Data: []byte("unchanged\n")},
	}); err != nil {
		t.Fatal(err)
	}
	return &specialists.Request{Job: "job-1", Task: "pipeline", Role: "data-pipeline-engineer", Skill: "features",
		Title: "Feature pipeline", Instructions: "Build the features.", Params: map[string]string{"rows": "500"},
		Inputs: []string{"design"}, Attempt: 1, ScratchRoot: t.TempDir(), Artifacts: store}
}

func files(res *specialists.Result) map[string]string {
	out := map[string]string{}
	for _, f := range res.Files {
		out[f.Path] = string(f.Data)
	}
	return out
}

func TestAnAgentsNewAndChangedFilesBecomeArtifacts(t *testing.T) {
	agent := script(t, `
grep -q "use a queue" docs/design.md
grep -q "Build the features." "$ORCHESTRATE_INSTRUCTIONS_FILE"
mkdir -p pipelines
echo "rows=$ORCHESTRATE_PARAM_ROWS task=$ORCHESTRATE_TASK" > pipelines/features.txt
printf '#!/bin/sh\necho run\n' > pipelines/run.sh && chmod +x pipelines/run.sh
echo "and a cache" >> docs/design.md
echo "the agent says hello"
`)
	req := request(t)
	res, err := execagent.Skill(execagent.Config{Command: []string{agent}})(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := files(res)
	want := map[string]string{
		"pipelines/features.txt":         "rows=500 task=pipeline\n",
		"pipelines/run.sh":               "#!/bin/sh\necho run\n",
		"docs/design.md":                 "# Design\nuse a queue\nand a cache\n",
		".orchestrate/logs/pipeline.log": "the agent says hello\n",
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s = %q, want %q", p, got[p], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("artifacts %v, want only the new and changed files and the log", got)
	}
	for _, f := range res.Files {
		if f.Path == "pipelines/run.sh" && f.Mode&0o100 == 0 {
			t.Errorf("run.sh lost its executable bit: %v", f.Mode)
		}
	}
	if !strings.Contains(res.Summary, "wrote 3 files") {
		t.Errorf("summary %q", res.Summary)
	}
}

func TestFailuresAreTransientUnlessConfiguredPermanent(t *testing.T) {
	agent := script(t, "echo 'no GPU today' >&2\nexit \"$ORCHESTRATE_PARAM_CODE\"\n")
	for _, tc := range []struct {
		code      string
		permanent bool
	}{{"3", false}, {"2", true}} {
		req := request(t)
		req.Params = map[string]string{"code": tc.code}
		_, err := execagent.Skill(execagent.Config{Command: []string{agent}, PermanentExitCodes: []int{2}})(context.Background(), req)
		if !errors.Is(err, execagent.ErrAgentFailed) || specialists.IsPermanent(err) != tc.permanent {
			t.Errorf("exit %s: err = %v, permanent %v; want permanent %v", tc.code, err, specialists.IsPermanent(err), tc.permanent)
		}
		if err != nil && !strings.Contains(err.Error(), "exited with code "+tc.code) || !strings.Contains(err.Error(), "no GPU today") {
			t.Errorf("exit %s: error %q does not say the code and quote the output", tc.code, err)
		}
	}
}

func TestATimeoutKillsTheAgentsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	agent := script(t, "(sleep 30; touch "+dir+"/survivor) &\nsleep 30\n")
	start := time.Now()
	_, err := execagent.Skill(execagent.Config{Command: []string{agent}, Timeout: 300 * time.Millisecond})(context.Background(), request(t))
	if !errors.Is(err, execagent.ErrAgentFailed) || specialists.IsPermanent(err) || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v, want a transient timeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
	// The background subshell (a copy of the script's shell, with its
	// command line) was killed with the group.
	out, _ := exec("pgrep", "-f", agent)
	if strings.TrimSpace(out) != "" {
		t.Errorf("a process of the agent survived: %s", out)
	}
}

func TestASymbolicLinkIsRefused(t *testing.T) {
	agent := script(t, "ln -s /etc/passwd leak\n")
	_, err := execagent.Skill(execagent.Config{Command: []string{agent}})(context.Background(), request(t))
	if !specialists.IsPermanent(err) || !strings.Contains(err.Error(), "leak") {
		t.Errorf("err = %v, want a permanent error naming the link", err)
	}
}

func TestAMissingProgramIsPermanent(t *testing.T) {
	_, err := execagent.Skill(execagent.Config{Command: []string{"no-such-agent-cli"}})(context.Background(), request(t))
	if !specialists.IsPermanent(err) || !strings.Contains(err.Error(), "no-such-agent-cli") {
		t.Errorf("err = %v", err)
	}
}

func exec(name string, args ...string) (string, error) {
	out, err := osexec.Command(name, args...).CombinedOutput()
	return string(out), err
}
