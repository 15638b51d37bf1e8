package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/engine"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/tabular"
	"github.com/orchestrate-dev/orchestrate/specialists/roleconfig"
)

// envAliases are environment names that differ from ORCHESTRATE_<FLAG>.
var envAliases = map[string]string{
	"nats":  "ORCHESTRATE_NATS_URL",
	"redis": "ORCHESTRATE_REDIS_URL",
}

// EnvName is the environment variable that sets a flag.
func EnvName(flag string) string {
	if n, ok := envAliases[flag]; ok {
		return n
	}
	return "ORCHESTRATE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnvAndConfig gives every flag not set on the command line its value
// from the environment, else from the config file: flags win over the
// environment, which wins over the file.
func applyEnvAndConfig(cmd *cobra.Command) error {
	file, path, err := loadConfigFile(cmd)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	walkFlags(cmd.Root(), func(f *pflag.Flag) { known[f.Name] = true })
	var unknown []string
	for k := range file {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return usagef("config file %s: unknown keys %s (keys are flag names, e.g. nats, redis, max-agents)", path, strings.Join(unknown, ", "))
	}
	var setErr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if setErr != nil || f.Changed || f.Name == "config" || f.Name == "help" {
			return
		}
		if v, ok := os.LookupEnv(EnvName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				setErr = usagef("environment %s=%q: %v", EnvName(f.Name), v, err)
			}
			return
		}
		if v, ok := file[f.Name]; ok {
			if err := f.Value.Set(v); err != nil {
				setErr = usagef("config file %s: key %s=%q: %v", path, f.Name, v, err)
			}
		}
	})
	return setErr
}

func walkFlags(c *cobra.Command, fn func(*pflag.Flag)) {
	c.Flags().VisitAll(fn)
	c.PersistentFlags().VisitAll(fn)
	for _, sub := range c.Commands() {
		walkFlags(sub, fn)
	}
}

// loadConfigFile reads the file named by --config or ORCHESTRATE_CONFIG,
// else the default location when it exists.
func loadConfigFile(cmd *cobra.Command) (map[string]string, string, error) {
	path, explicit := "", false
	if f := cmd.Flags().Lookup("config"); f != nil && f.Value.String() != "" {
		path, explicit = f.Value.String(), true
	} else if v := os.Getenv("ORCHESTRATE_CONFIG"); v != "" {
		path, explicit = v, true
	} else if d, err := os.UserConfigDir(); err == nil {
		path = filepath.Join(d, "orchestrate", "config.yaml")
	}
	if path == "" {
		return nil, "", nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return nil, "", nil
		}
		return nil, path, usagef("config file: %v", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, path, usagef("config file %s: %v", path, err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch x := v.(type) {
		case []any:
			parts := make([]string, len(x))
			for i, p := range x {
				parts[i] = fmt.Sprint(p)
			}
			out[k] = strings.Join(parts, ",")
		case map[string]any:
			return nil, path, usagef("config file %s: key %s: nested maps are not supported", path, k)
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out, path, nil
}

// isBadInput reports errors caused by what the user gave us.
func isBadInput(err error) bool {
	return errors.Is(err, planner.ErrInvalidPlan) || errors.Is(err, planner.ErrNoScenario) || errors.Is(err, planner.ErrNoJob) || errors.Is(err, roleconfig.ErrInvalid) ||
		errors.Is(err, engine.ErrUsage) || errors.Is(err, tabular.ErrBadData)
}
