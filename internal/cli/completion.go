package cli

import (
	"github.com/spf13/cobra"
)

// addBuiltinCommands adds cobra's help and completion commands to root now
// rather than when it executes, so that they carry examples like every
// other command.
func addBuiltinCommands(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	examples := map[string]string{
		"help": `  orchestrate help submit`,
		"completion": `  source <(orchestrate completion bash)
  orchestrate completion zsh > "${fpath[1]}/_orchestrate"
  orchestrate completion fish > ~/.config/fish/completions/orchestrate.fish`,
		"completion bash":       `  source <(orchestrate completion bash)`,
		"completion zsh":        `  orchestrate completion zsh > "${fpath[1]}/_orchestrate"`,
		"completion fish":       `  orchestrate completion fish > ~/.config/fish/completions/orchestrate.fish`,
		"completion powershell": `  orchestrate completion powershell | Out-String | Invoke-Expression`,
	}
	for _, c := range root.Commands() {
		for _, cmd := range append([]*cobra.Command{c}, c.Commands()...) {
			path := cmd.CommandPath()[len(root.Name())+1:]
			if ex, ok := examples[path]; ok && cmd.Example == "" {
				cmd.Example = ex
			}
		}
	}
}
