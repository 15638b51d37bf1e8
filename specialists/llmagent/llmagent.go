package llmagent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/orchestrate-dev/orchestrate/specialists"
)

// Config is how a role reaches its model.
type Config struct {
	// Model names the model, such as claude-sonnet-4-5.
	Model string
	// BaseURL is where the Messages API is; empty means Anthropic's.
	BaseURL string
	// APIKeyEnv names the environment variable holding the API key; empty
	// means ANTHROPIC_API_KEY. The key is read at each run.
	APIKeyEnv string
	// MaxTurns bounds the model calls of one run; zero means 20.
	MaxTurns int
	// MaxTokens bounds one response; zero means 8192.
	MaxTokens int
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
}

// Defaults of the zero values of Config.
const (
	DefaultAPIKeyEnv  = "ANTHROPIC_API_KEY"
	DefaultMaxTurns   = 20
	DefaultMaxTokens  = 8192
	DefaultTimeout    = 10 * time.Minute
	DefaultMaxRetries = 4
)

// ErrMaxTurns is wrapped by the error of a run whose model did not
// finish within Config.MaxTurns calls.
var ErrMaxTurns = errors.New("the model did not finish")

func (c Config) withDefaults() Config {
	if c.APIKeyEnv == "" {
		c.APIKeyEnv = DefaultAPIKeyEnv
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
		return r.loop(ctx)
	}
}

// run is one execution of the agent loop.
type run struct {
	cfg     Config
	client  anthropic.Client
	params  anthropic.MessageNewParams
	session *session

	calls, cached             int
	inputTokens, outputTokens int64
}

func newRun(ctx context.Context, cfg Config, req *specialists.Request) (*run, error) {
	if cfg.Model == "" {
		return nil, specialists.Permanent(fmt.Errorf("role %s: the llm executor has no model", req.Role))
	}
	key := os.Getenv(cfg.APIKeyEnv)
	if key == "" {
		return nil, specialists.Permanent(fmt.Errorf("role %s: no API key: the environment variable %s is not set", req.Role, cfg.APIKeyEnv))
	}
	system := fmt.Sprintf("You are the %s of a team building a software project. You do one subtask: "+
		"read the inputs you need, write the files the subtask asks for with write_file, then call finish.", req.Role)
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
	opts := []option.RequestOption{option.WithoutEnvironmentDefaults(), option.WithAPIKey(key), option.WithMaxRetries(cfg.MaxRetries)}
	if cfg.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(cfg.BaseURL))
	}
	return &run{
		cfg:    cfg,
		client: anthropic.NewClient(opts...),
		params: anthropic.MessageNewParams{
			Model:     anthropic.Model(cfg.Model),
			MaxTokens: int64(cfg.MaxTokens),
			System:    []anthropic.TextBlockParam{{Text: system}},
			Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(brief(req)))},
			Tools:     tools,
		},
		session: s,
	}, nil
}

// loop calls the model and runs the tools it uses until it calls finish.
func (r *run) loop(ctx context.Context) (*specialists.Result, error) {
	role := r.session.req.Role
	for range r.cfg.MaxTurns {
		msg, err := r.send(ctx)
		if err != nil {
			return nil, fmt.Errorf("role %s: %w", role, err)
		}
		r.params.Messages = append(r.params.Messages, msg.ToParam())
		var results []anthropic.ContentBlockParamUnion
		for _, b := range msg.Content {
			if b.Type != "tool_use" {
				continue
			}
			res, err := r.session.call(ctx, b.Name, b.ID, b.Input)
			if err != nil {
				return nil, fmt.Errorf("role %s: tool %s: %w", role, b.Name, err)
			}
			results = append(results, res)
		}
		if r.session.done {
			return &specialists.Result{Files: r.session.written, Summary: r.summary()}, nil
		}
		if len(results) == 0 {
			// The model answered in prose only; remind it how to end.
			results = append(results, anthropic.NewTextBlock("Use the tools: write the files with write_file, then call finish."))
		}
		r.params.Messages = append(r.params.Messages, anthropic.NewUserMessage(results...))
	}
	return nil, specialists.Permanent(fmt.Errorf("role %s: %w within %d turns (%s)", role, ErrMaxTurns, r.cfg.MaxTurns, r.usage()))
}

// send makes one model call, or replays it from the cache.
func (r *run) send(ctx context.Context) (*anthropic.Message, error) {
	var key string
	if r.cfg.Cache != nil {
		var err error
		if key, err = cacheKey(r.params); err != nil {
			return nil, err
		}
		data, ok, err := r.cfg.Cache.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("response cache: %w", err)
		}
		if ok {
			var msg anthropic.Message
			if err := json.Unmarshal(data, &msg); err == nil {
				r.cached++
				return &msg, nil
			}
			// An unreadable entry is asked again, and replaced.
		}
	}
	msg, err := r.client.Messages.New(ctx, r.params)
	if err != nil {
		return nil, classify(ctx, err)
	}
	r.calls++
	r.inputTokens += msg.Usage.InputTokens
	r.outputTokens += msg.Usage.OutputTokens
	if r.cfg.Cache != nil {
		if err := r.cfg.Cache.Put(ctx, key, []byte(msg.RawJSON())); err != nil {
			return nil, fmt.Errorf("response cache: %w", err)
		}
	}
	return msg, nil
}

// classify marks the API's refusals of the request itself as permanent.
// Rate limits, timeouts and server errors were already retried by the
// client; another attempt of the task later may still succeed.
func classify(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var apiErr *anthropic.Error
	if errors.As(err, &apiErr) {
		code := apiErr.StatusCode
		if code >= 400 && code < 500 && code != http.StatusTooManyRequests && code != http.StatusRequestTimeout {
			return specialists.Permanent(fmt.Errorf("model call: %w", err))
		}
	}
	return fmt.Errorf("model call: %w", err)
}

// cacheKey is the SHA-256 of what determines a response.
func cacheKey(p anthropic.MessageNewParams) (string, error) {
	data, err := json.Marshal(struct {
		Model     anthropic.Model            `json:"model"`
		MaxTokens int64                      `json:"max_tokens"`
		System    []anthropic.TextBlockParam `json:"system"`
		Messages  []anthropic.MessageParam   `json:"messages"`
		Tools     []anthropic.ToolUnionParam `json:"tools"`
	}{p.Model, p.MaxTokens, p.System, p.Messages, p.Tools})
	if err != nil {
		return "", fmt.Errorf("response cache key: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

func (r *run) usage() string {
	s := fmt.Sprintf("%d calls, %d input tokens, %d output tokens", r.calls, r.inputTokens, r.outputTokens)
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
