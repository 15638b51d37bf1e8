package llmagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/orchestrate-dev/orchestrate/specialists"
)

// anthropicAPI speaks Anthropic's Messages API through its SDK, which
// retries rate limits and server errors.
type anthropicAPI struct {
	client anthropic.Client
	params anthropic.MessageNewParams
}

func newAnthropic(cfg Config, key, system, brief string, specs []toolSpec) *anthropicAPI {
	opts := []option.RequestOption{option.WithoutEnvironmentDefaults(), option.WithAPIKey(key), option.WithMaxRetries(cfg.MaxRetries)}
	if cfg.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(cfg.BaseURL))
	}
	tools := make([]anthropic.ToolUnionParam, len(specs))
	for i, t := range specs {
		props, required := t.schema()
		tools[i] = anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
			Name:        t.name,
			Description: anthropic.String(t.description),
			InputSchema: anthropic.ToolInputSchemaParam{Properties: props, Required: required},
		}}
	}
	return &anthropicAPI{
		client: anthropic.NewClient(opts...),
		params: anthropic.MessageNewParams{
			Model:       anthropic.Model(cfg.Model),
			MaxTokens:   int64(cfg.MaxTokens),
			Temperature: anthropic.Float(cfg.Temperature),
			System:      []anthropic.TextBlockParam{{Text: system}},
			Messages:    []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(brief))},
			Tools:       tools,
		},
	}
}

func (a *anthropicAPI) request() any {
	p := a.params
	return struct {
		Model       anthropic.Model            `json:"model"`
		MaxTokens   int64                      `json:"max_tokens"`
		Temperature float64                    `json:"temperature"`
		System      []anthropic.TextBlockParam `json:"system"`
		Messages    []anthropic.MessageParam   `json:"messages"`
		Tools       []anthropic.ToolUnionParam `json:"tools"`
	}{p.Model, p.MaxTokens, p.Temperature.Value, p.System, p.Messages, p.Tools}
}

func (a *anthropicAPI) send(ctx context.Context) ([]byte, error) {
	msg, err := a.client.Messages.New(ctx, a.params)
	if err != nil {
		return nil, classify(ctx, err)
	}
	return []byte(msg.RawJSON()), nil
}

func (a *anthropicAPI) accept(data []byte) (reply, error) {
	var msg anthropic.Message
	if err := json.Unmarshal(data, &msg); err != nil {
		return reply{}, err
	}
	a.params.Messages = append(a.params.Messages, msg.ToParam())
	rep := reply{inputTokens: msg.Usage.InputTokens, outputTokens: msg.Usage.OutputTokens}
	for _, b := range msg.Content {
		if b.Type == "tool_use" {
			rep.calls = append(rep.calls, toolCall{id: b.ID, name: b.Name, input: b.Input})
		}
	}
	return rep, nil
}

func (a *anthropicAPI) answer(results []toolResult, reminder string) {
	blocks := make([]anthropic.ContentBlockParamUnion, len(results))
	for i, res := range results {
		blocks[i] = anthropic.NewToolResultBlock(res.id, res.content, res.isError)
	}
	if len(blocks) == 0 {
		blocks = append(blocks, anthropic.NewTextBlock(reminder))
	}
	a.params.Messages = append(a.params.Messages, anthropic.NewUserMessage(blocks...))
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
