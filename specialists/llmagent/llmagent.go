package llmagent

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/orchestrate-dev/orchestrate/specialists"
)

// Config is how a role reaches its model.
type Config struct {
	// Provider is the API the model speaks: ProviderAnthropic (Anthropic's
	// Messages API), the default when empty, or ProviderOpenAI (chat
	// completions, as OpenAI, Ollama and vLLM serve them).
	Provider string
	// Model names the model, such as claude-sonnet-4-5, gpt-4.1 or
	// llama3.1.
	Model string
	// BaseURL is where the API is; empty means Anthropic's or OpenAI's.
	// For the openai provider it ends before /chat/completions, such as
	// http://localhost:11434/v1 for Ollama.
	BaseURL string
	// APIKeyEnv names the environment variable holding the API key; empty
	// means ANTHROPIC_API_KEY, or OPENAI_API_KEY for the openai provider.
	// The key is read at each run. A run without a key fails, except one
	// of the openai provider with a BaseURL: a local server such as Ollama
	// needs none, so no Authorization header is sent.
	APIKeyEnv string
	// APIKeyFile, when set, is a file holding the API key (a mounted
	// Kubernetes secret, say), read at each run instead of APIKeyEnv;
	// surrounding white space is ignored.
	APIKeyFile string
	// MaxTurns bounds the model calls of one run; zero means 20.
	MaxTurns int
	// MaxTokens bounds one response; zero means 8192.
	MaxTokens int
	// Temperature of the model's sampling; zero, the default, makes a run
	// as repeatable as the provider allows.
	Temperature float64
	// SystemPrompt is the path of a file holding the system prompt; empty
	// means a default one naming the role.
	SystemPrompt string
	// Timeout bounds one run; zero means 10 minutes.
	Timeout time.Duration
	// MaxRetries is how often a call is retried after a rate limit (429),
	// an overload or a server error (5xx); zero means 4.
	MaxRetries int
	// Cache replays the responses to requests already made; nil means none.
	Cache Cache
	// BudgetUSD bounds what one run of a subtask may cost; zero means no
	// bound. The job's budget is the request's Meter's.
	BudgetUSD float64
	// Prices are added to DefaultPrices, and win over them, to estimate
	// costs.
	Prices map[string]Price
	// RunTimeout bounds one command of the run tool; zero means 2 minutes.
	RunTimeout time.Duration
}

// Defaults of the zero values of Config.
const (
	ProviderAnthropic = "anthropic"
	ProviderOpenAI    = "openai"

	DefaultAPIKeyEnv       = "ANTHROPIC_API_KEY"
	DefaultOpenAIAPIKeyEnv = "OPENAI_API_KEY"
	DefaultOpenAIBaseURL   = "https://api.openai.com/v1"
	DefaultMaxTurns        = 20
	DefaultMaxTokens       = 8192
	DefaultTimeout         = 10 * time.Minute
	DefaultMaxRetries      = 4
)

// ErrMaxTurns is wrapped by the error of a run whose model did not
// finish within Config.MaxTurns calls.
var ErrMaxTurns = errors.New("the model did not finish")

func (c Config) withDefaults() Config {
	if c.Provider == "" {
		c.Provider = ProviderAnthropic
	}
	if c.APIKeyEnv == "" {
		c.APIKeyEnv = DefaultAPIKeyEnv
		if c.Provider == ProviderOpenAI {
			c.APIKeyEnv = DefaultOpenAIAPIKeyEnv
		}
	}
	if c.MaxTurns <= 0 {
		c.MaxTurns = DefaultMaxTurns
	}
	if c.MaxTokens <= 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxRetries <= 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.RunTimeout <= 0 {
		c.RunTimeout = runTimeout
	}
	return c
}

// Skill returns a skill that has cfg's model perform each subtask.
func Skill(cfg Config) specialists.Skill {
	cfg = cfg.withDefaults()
	return func(ctx context.Context, req *specialists.Request) (*specialists.Result, error) {
		ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		r, err := newRun(ctx, cfg, req)
		if err != nil {
			return nil, err
		}
		defer r.session.close()
		return r.loop(ctx)
	}
}

// provider is one API's side of the agent loop: it keeps the conversation
// in the API's format and makes the calls. The loop, the tools, the cache
// and the accounting are the same for every provider.
type provider interface {
	// request is what determines the next response; its JSON is hashed
	// into the cache key.
	request() any
	// send makes the next call and returns the response as the API sent it.
	send(ctx context.Context) ([]byte, error)
	// accept adds a response, fresh or cached, to the conversation and
	// returns the tool calls it makes and the tokens it took.
	accept(data []byte) (reply, error)
	// answer adds the results of the last response's tool calls, or, when
	// there are none, the reminder to use the tools.
	answer(results []toolResult, reminder string)
}

// reply is what the loop needs of one response.
type reply struct {
	calls                     []toolCall
	inputTokens, outputTokens int64
}

// reminder answers an agent that used no tool.
const reminder = "Use the tools: write the files with write_file, then call finish."

// run is one execution of the agent loop.
type run struct {
	cfg     Config
	api     provider
	session *session

	calls, cached             int
	inputTokens, outputTokens int64
	// price is the model's; cost is what the run's calls cost by it.
	price Price
	cost  float64
}

func newRun(ctx context.Context, cfg Config, req *specialists.Request) (*run, error) {
	if cfg.Model == "" {
		return nil, specialists.Permanent(fmt.Errorf("role %s: the llm executor has no model", req.Role))
	}
	if cfg.Provider != ProviderAnthropic && cfg.Provider != ProviderOpenAI {
		return nil, specialists.Permanent(fmt.Errorf("role %s: unknown provider %q (want %s or %s)", req.Role, cfg.Provider, ProviderAnthropic, ProviderOpenAI))
	}
	key, err := apiKey(cfg)
	if err != nil {
		return nil, fmt.Errorf("role %s: %w", req.Role, err)
	}
	system := defaultPrompt(req.Role)
	if cfg.SystemPrompt != "" {
		data, err := os.ReadFile(cfg.SystemPrompt)
		if err != nil {
			return nil, specialists.Permanent(fmt.Errorf("role %s: system prompt: %w", req.Role, err))
		}
		system = string(data)
	}
	s, err := newSession(ctx, req)
	if err != nil {
		return nil, err
	}
	s.runTimeout = cfg.RunTimeout
	return &run{cfg: cfg, api: newProvider(cfg, key, system, brief(req), toolSpecs), session: s, price: priceOf(cfg.Model, cfg.Prices)}, nil
}

// prompts are the default system prompts, one per role, and default.md
// for a role without one.
//
//go:embed prompts/*.md
var prompts embed.FS

func defaultPrompt(role string) string {
	data, err := prompts.ReadFile("prompts/" + role + ".md")
	if err != nil {
		data, _ = prompts.ReadFile("prompts/default.md")
	}
	return string(data)
}

// apiKey reads the key of cfg's provider from its file or the environment.
func apiKey(cfg Config) (string, error) {
	if cfg.APIKeyFile != "" {
		data, err := os.ReadFile(cfg.APIKeyFile)
		if err != nil {
			// The path is named, never the content.
			return "", specialists.Permanent(fmt.Errorf("API key file: %w", err))
		}
		if key := strings.TrimSpace(string(data)); key != "" {
			return key, nil
		}
		return "", specialists.Permanent(fmt.Errorf("API key file %s is empty", cfg.APIKeyFile))
	}
	key := os.Getenv(cfg.APIKeyEnv)
	// A local server (Ollama, vLLM) is reached through a base_url and
	// usually wants no key.
	keyless := cfg.Provider == ProviderOpenAI && cfg.BaseURL != ""
	if key == "" && !keyless {
		return "", specialists.Permanent(fmt.Errorf("no API key: the environment variable %s is not set", cfg.APIKeyEnv))
	}
	return key, nil
}

func newProvider(cfg Config, key, system, brief string, specs []toolSpec) provider {
	if cfg.Provider == ProviderOpenAI {
		return newOpenAI(cfg, key, system, brief, specs)
	}
	return newAnthropic(cfg, key, system, brief, specs)
}

// loop calls the model and runs the tools it uses until it calls finish.
func (r *run) loop(ctx context.Context) (*specialists.Result, error) {
	role := r.session.req.Role
	for range r.cfg.MaxTurns {
		rep, err := r.send(ctx)
		if err != nil {
			return nil, fmt.Errorf("role %s: %w", role, err)
		}
		var results []toolResult
		for _, c := range rep.calls {
			res, err := r.session.call(ctx, c)
			if err != nil {
				return nil, fmt.Errorf("role %s: tool %s: %w", role, c.name, err)
			}
			results = append(results, res)
		}
		if r.session.done {
			return &specialists.Result{Files: r.session.written, Summary: r.summary()}, nil
		}
		r.api.answer(results, reminder)
	}
	return nil, specialists.Permanent(fmt.Errorf("role %s: %w within %d turns (%s)", role, ErrMaxTurns, r.cfg.MaxTurns, r.usage()))
}

// send makes one model call, or replays it from the cache.
func (r *run) send(ctx context.Context) (reply, error) {
	var key string
	if r.cfg.Cache != nil {
		var err error
		if key, err = cacheKey(r.api.request()); err != nil {
			return reply{}, err
		}
		data, ok, err := r.cfg.Cache.Get(ctx, key)
		if err != nil {
			return reply{}, fmt.Errorf("response cache: %w", err)
		}
		if ok {
			if rep, err := r.api.accept(data); err == nil {
				r.cached++
				return rep, r.record(ctx, specialists.Usage{CachedCalls: 1})
			}
			// An unreadable entry is asked again, and replaced.
		}
	}
	meter := r.session.req.Meter
	if meter != nil {
		if err := meter.Allow(ctx); err != nil {
			if errors.Is(err, specialists.ErrBudget) {
				return reply{}, specialists.Permanent(fmt.Errorf("%w (%s)", err, r.usage()))
			}
			return reply{}, err
		}
	}
	data, err := r.api.send(ctx)
	if err != nil {
		return reply{}, err
	}
	rep, err := r.api.accept(data)
	if err != nil {
		return reply{}, fmt.Errorf("model call: %w", err)
	}
	u := specialists.Usage{Calls: 1, InputTokens: rep.inputTokens, OutputTokens: rep.outputTokens,
		CostUSD: r.price.cost(rep.inputTokens, rep.outputTokens)}
	r.calls++
	r.inputTokens += rep.inputTokens
	r.outputTokens += rep.outputTokens
	r.cost += u.CostUSD
	if r.cfg.Cache != nil {
		if err := r.cfg.Cache.Put(ctx, key, data); err != nil {
			return reply{}, fmt.Errorf("response cache: %w", err)
		}
	}
	if err := r.record(ctx, u); err != nil {
		return reply{}, err
	}
	if r.cfg.BudgetUSD > 0 && r.cost > r.cfg.BudgetUSD {
		return reply{}, specialists.Permanent(fmt.Errorf("%w: the subtask spent $%.4f, more than its $%.4f budget (%s)",
			specialists.ErrBudget, r.cost, r.cfg.BudgetUSD, r.usage()))
	}
	return rep, nil
}

// record adds a call's usage to the task's and the job's.
func (r *run) record(ctx context.Context, u specialists.Usage) error {
	if m := r.session.req.Meter; m != nil {
		return m.Record(ctx, u)
	}
	return nil
}

// cacheKey is the SHA-256 of what determines a response.
func cacheKey(request any) (string, error) {
	data, err := json.Marshal(request)
	if err != nil {
		return "", fmt.Errorf("response cache key: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

func (r *run) usage() string {
	s := fmt.Sprintf("%d calls, %d input tokens, %d output tokens, $%.4f", r.calls, r.inputTokens, r.outputTokens, r.cost)
	if r.cached > 0 {
		s += fmt.Sprintf(", %d responses from cache", r.cached)
	}
	return s
}

func (r *run) summary() string {
	s := strings.TrimSpace(r.session.summary)
	if s == "" {
		return r.usage()
	}
	return s + " (" + r.usage() + ")"
}

// brief is the first user message: the subtask without the job, task and
// attempt, so that the same subtask asked again (a retry, a rerun) hits the
// response cache.
func brief(req *specialists.Request) string { return req.Brief() }
