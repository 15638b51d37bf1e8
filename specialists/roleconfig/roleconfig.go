// Package roleconfig reads roles.yaml: which executor runs each role's
// subtasks, and its settings. Roles it does not list keep the builtin
// skills.
//
//	roles:
//	  data-pipeline-engineer:
//	    executor: exec
//	    command: ["./agents/pipeline.sh"]
//	    timeout: 10m
//	    permanent_exit_codes: [2]
package roleconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The executors a role can have.
const (
	ExecutorBuiltin = "builtin"
	ExecutorExec    = "exec"
	ExecutorLLM     = "llm"
)

// ErrInvalid is wrapped by every error of a roles file.
var ErrInvalid = errors.New("invalid roles configuration")

// Config is a roles file.
type Config struct {
	Roles map[string]Role `yaml:"roles"`
	// Prices are US dollars per million tokens by model name, for the cost
	// estimates of the llm executor; they add to and win over its
	// defaults.
	Prices map[string]Price `yaml:"prices,omitempty"`
	// Planner is the model of the llm planner; nil means none.
	Planner *Planner `yaml:"planner,omitempty"`
}

// Planner is the model the llm planner asks for plans.
type Planner struct {
	Provider   string   `yaml:"provider"`
	Model      string   `yaml:"model"`
	BaseURL    string   `yaml:"base_url,omitempty"`
	APIKeyEnv  string   `yaml:"api_key_env,omitempty"`
	APIKeyFile string   `yaml:"api_key_file,omitempty"`
	MaxTokens  int      `yaml:"max_tokens,omitempty"`
	Timeout    Duration `yaml:"timeout,omitempty"`
}

// Price is what a model charges per million tokens.
type Price struct {
	InputPerMTok  float64 `yaml:"input_usd_per_mtok"`
	OutputPerMTok float64 `yaml:"output_usd_per_mtok"`
}

// Role is one role's executor and its settings.
type Role struct {
	Executor string `yaml:"executor"`
	// exec: the program, its time limit, the exit codes no retry fixes,
	// and settings added to its environment.
	Command            []string          `yaml:"command,omitempty"`
	Timeout            Duration          `yaml:"timeout,omitempty"`
	PermanentExitCodes []int             `yaml:"permanent_exit_codes,omitempty"`
	Env                map[string]string `yaml:"env,omitempty"`
	// llm: the provider and model, where to reach it, where its key is.
	Provider     string  `yaml:"provider,omitempty"`
	Model        string  `yaml:"model,omitempty"`
	BaseURL      string  `yaml:"base_url,omitempty"`
	APIKeyEnv    string  `yaml:"api_key_env,omitempty"`
	APIKeyFile   string  `yaml:"api_key_file,omitempty"`
	MaxTurns     int     `yaml:"max_turns,omitempty"`
	MaxTokens    int     `yaml:"max_tokens,omitempty"`
	Temperature  float64 `yaml:"temperature,omitempty"`
	BudgetUSD    float64 `yaml:"budget_usd,omitempty"`
	SystemPrompt string  `yaml:"system_prompt,omitempty"`
	// RunTimeout bounds one command of the llm executor's run tool.
	RunTimeout Duration `yaml:"run_timeout,omitempty"`
}

// Duration reads "10m" style durations.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration such as 10m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MaxFileSize bounds a roles file.
const MaxFileSize = 1 << 20

// Load reads a roles file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("roles config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("roles config %s: %w", path, err)
	}
	return c, nil
}

// Parse reads a roles file's content. Unknown fields are errors naming
// their line; each role's settings must fit its executor.
func Parse(data []byte) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalid, len(data), MaxFileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var probs []string
	names := make([]string, 0, len(c.Roles))
	for name := range c.Roles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r := c.Roles[name]
		bad := func(format string, a ...any) { probs = append(probs, "roles."+name+": "+fmt.Sprintf(format, a...)) }
		switch r.Executor {
		case ExecutorBuiltin:
		case ExecutorExec:
			if len(r.Command) == 0 || r.Command[0] == "" {
				bad("the exec executor needs a command, such as [\"./agents/pipeline.sh\"]")
			}
			if r.Provider != "" || r.Model != "" {
				bad("provider and model are settings of the llm executor, not exec")
			}
		case ExecutorLLM:
			if !slices.Contains([]string{"anthropic", "openai"}, r.Provider) {
				bad("provider %q: want anthropic or openai", r.Provider)
			}
			if r.Model == "" {
				bad("the llm executor needs a model")
			}
			if len(r.Command) > 0 {
				bad("command is a setting of the exec executor, not llm")
			}
		default:
			bad("executor %q: want builtin, exec or llm", r.Executor)
		}
	}
	if p := c.Planner; p != nil {
		if !slices.Contains([]string{"anthropic", "openai"}, p.Provider) {
			probs = append(probs, fmt.Sprintf("planner: provider %q: want anthropic or openai", p.Provider))
		}
		if p.Model == "" {
			probs = append(probs, "planner: needs a model")
		}
	}
	models := make([]string, 0, len(c.Prices))
	for m := range c.Prices {
		models = append(models, m)
	}
	sort.Strings(models)
	for _, m := range models {
		if p := c.Prices[m]; p.InputPerMTok < 0 || p.OutputPerMTok < 0 {
			probs = append(probs, "prices."+m+": prices are US dollars per million tokens, zero or more")
		}
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(probs, "; "))
	}
	return &c, nil
}
