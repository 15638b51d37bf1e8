package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestCompletionPrintsAScriptForEachShell(t *testing.T) {
	isolate(t)
	cases := []struct{ shell, want string }{
		{"bash", "# bash completion V2 for orchestrate"},
		{"zsh", "#compdef orchestrate"},
		{"fish", "# fish completion for orchestrate"},
	}
	for _, c := range cases {
		t.Run(c.shell, func(t *testing.T) {
			code, stdout, stderr := execute(t, "completion", c.shell)
			if code != 0 || stderr != "" || !strings.HasPrefix(stdout, c.want) {
				t.Errorf("exit %d, stderr %q, stdout begins %q", code, stderr, stdout[:min(len(stdout), 80)])
			}
		})
	}
}

func TestEveryCommandsHelpHasAnExample(t *testing.T) {
	f, _, _ := testFactory()
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		if c.Example == "" {
			t.Errorf("%q has no Example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRootCmd(f))
}

func TestTheRootHelpDocumentsTheExitCodes(t *testing.T) {
	isolate(t)
	code, stdout, _ := execute(t, "--help")
	for _, want := range []string{"Exit codes:", "\n  0    success", "\n  1    the job failed", "\n  2    usage", "\n  3    cannot reach NATS or Redis", "\n  130  interrupted"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("exit %d; the help does not say %q", code, want)
		}
	}
}
