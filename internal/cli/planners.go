package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/planner/llmplan"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/llmagent"
)

// The planners a goal can be decomposed by (--planner).
const (
	plannerAuto    = "auto"    // llm when roles.yaml has a planner, else builtin
	plannerLLM     = "llm"     // the model of roles.yaml's planner, falling back to the catalog
	plannerBuiltin = "builtin" // the builtin catalog of scenarios
)

// defaultPlanningTimeout bounds the llm planner's calls, repair included.
const defaultPlanningTimeout = 5 * time.Minute

// decomposeFunc plans a goal with the answers given.
type decomposeFunc func(ctx context.Context, goal string, answers map[string]string) (*planner.Plan, error)

// resolvePlanner checks --planner against the roles configuration and
// returns llm or builtin.
func (f *Factory) resolvePlanner(mode string) (string, error) {
	switch mode {
	case plannerAuto:
		if f.roles != nil && f.roles.Planner != nil {
			return plannerLLM, nil
		}
		return plannerBuiltin, nil
	case plannerBuiltin:
		return mode, nil
	case plannerLLM:
		if f.roles == nil || f.roles.Planner == nil {
			return "", usagef("--planner llm needs a model: give --roles-config FILE whose roles.yaml has a planner section (provider, model; see docs/specialists.md)")
		}
		return mode, nil
	default:
		return "", usagef("--planner %q: want auto, llm or builtin", mode)
	}
}

// decomposer returns how goals are planned under mode (resolved): the
// builtin catalog, or the llm planner, whose plans must validate against
// skills and which falls back to the catalog with a notice on notices when
// the model's plan stays invalid or the model cannot be reached. cache,
// when not nil, replays model calls.
func (f *Factory) decomposer(mode string, skills planner.Skills, cache llmagent.Cache, notices io.Writer) decomposeFunc {
	builtin := func(_ context.Context, goal string, answers map[string]string) (*planner.Plan, error) {
		return planner.Decompose(goal, answers)
	}
	if mode != plannerLLM {
		return builtin
	}
	pc := f.roles.Planner
	cfg := llmagent.Config{Provider: pc.Provider, Model: pc.Model, BaseURL: pc.BaseURL, APIKeyEnv: pc.APIKeyEnv, APIKeyFile: pc.APIKeyFile,
		MaxTokens: pc.MaxTokens, Timeout: time.Duration(pc.Timeout), Cache: cache, Prices: stack.Prices(f.roles)}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultPlanningTimeout
	}
	return func(ctx context.Context, goal string, answers map[string]string) (*planner.Plan, error) {
		p, usage, err := llmplan.Decompose(ctx, cfg, goal, answers, skills)
		if err == nil {
			fmt.Fprintf(notices, "planned by %s (%d calls, %d/%d tokens, $%.4f)\n", cfg.Model, usage.Calls+usage.CachedCalls,
				usage.InputTokens, usage.OutputTokens, usage.CostUSD)
			return p, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		fmt.Fprintf(notices, "the llm planner failed: %v\nfalling back to the builtin catalog\n", err)
		p, berr := planner.Decompose(goal, answers)
		if berr != nil {
			return nil, errors.Join(fmt.Errorf("llm planner: %w", err), berr)
		}
		return p, nil
	}
}

// localSkills is the registry of this process: the builtin skills with
// the roles configuration applied, for planning without servers.
func (f *Factory) localSkills() (*specialists.Registry, error) {
	reg := stack.Skills(nil, nil)
	if err := stack.ApplyRoles(reg, f.roles, nil); err != nil {
		return nil, usageError{err}
	}
	return reg, nil
}
