package llmagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/orchestrate-dev/orchestrate/specialists"
)

// openAIAPI speaks the chat completions API, as OpenAI and the servers
// compatible with it (Ollama, vLLM) serve it, through OpenAI's SDK, which
// posts to {base}/chat/completions and retries rate limits and server
// errors.
type openAIAPI struct {
	// chat is the service alone rather than a client: a client takes
	// OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID and more from the
	// environment, which would send a key to a local server meant to get
	// none, or the request to another server than the role's.
	chat   openai.ChatCompletionService
	params openai.ChatCompletionNewParams
}

func newOpenAI(cfg Config, key, system, brief string, specs []toolSpec) *openAIAPI {
	base := cfg.BaseURL
	if base == "" {
		base = DefaultOpenAIBaseURL
	}
	opts := []option.RequestOption{option.WithBaseURL(base), option.WithMaxRetries(max(cfg.MaxRetries, 0))}
	if key != "" {
		// Without a key the SDK sends no Authorization header, as a local
		// server expects.
		opts = append(opts, option.WithAPIKey(key))
	}
	tools := make([]openai.ChatCompletionToolUnionParam, len(specs))
	for i, t := range specs {
		props, required := t.schema()
		tools[i] = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name:        t.name,
			Description: openai.String(t.description),
			Parameters:  shared.FunctionParameters{"type": "object", "properties": props, "required": required},
		})
	}
	return &openAIAPI{
		chat: openai.NewChatCompletionService(opts...),
		params: openai.ChatCompletionNewParams{
			Model: cfg.Model,
			// max_tokens rather than max_completion_tokens: Ollama and vLLM
			// read only the former.
			MaxTokens: openai.Int(int64(cfg.MaxTokens)),
			// Sent even when zero, which is not the API's default.
			Temperature: openai.Float(cfg.Temperature),
			Messages:    []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(system), openai.UserMessage(brief)},
			Tools:       tools,
			ToolChoice:  openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String(string(openai.ChatCompletionToolChoiceOptionAutoAuto))},
		},
	}
}

// request is the body the SDK sends: its JSON has the maps' keys sorted,
// so the same conversation hashes to the same cache key.
func (o *openAIAPI) request() any { return o.params }

func (o *openAIAPI) send(ctx context.Context) ([]byte, error) {
	resp, err := o.chat.New(ctx, o.params)
	if err != nil {
		return nil, classifyOpenAI(ctx, err)
	}
	return []byte(resp.RawJSON()), nil
}

func (o *openAIAPI) accept(data []byte) (reply, error) {
	var resp openai.ChatCompletion
	if err := json.Unmarshal(data, &resp); err != nil {
		return reply{}, err
	}
	if len(resp.Choices) == 0 {
		return reply{}, errors.New("the response has no choices")
	}
	m := resp.Choices[0].Message
	msg := m.ToAssistantMessageParam()
	if !msg.Content.OfString.Valid() && len(msg.ToolCalls) == 0 {
		// An assistant message needs content or tool calls; the SDK drops
		// an empty or null content.
		msg.Content.OfString = openai.String("")
	}
	o.params.Messages = append(o.params.Messages, openai.ChatCompletionMessageParamUnion{OfAssistant: &msg})
	rep := reply{inputTokens: resp.Usage.PromptTokens, outputTokens: resp.Usage.CompletionTokens}
	for _, c := range m.ToolCalls {
		// Arguments is a JSON object encoded as a string, as the model
		// wrote it: it may be malformed, which the tool call reports.
		rep.calls = append(rep.calls, toolCall{id: c.ID, name: c.Function.Name, input: json.RawMessage(c.Function.Arguments)})
	}
	return rep, nil
}

func (o *openAIAPI) answer(results []toolResult, reminder string) {
	for _, res := range results {
		content := res.content
		if res.isError {
			// Chat completions have no error flag on a tool result.
			content = "error: " + content
		}
		o.params.Messages = append(o.params.Messages, openai.ToolMessage(content, res.id))
	}
	if len(results) == 0 {
		o.params.Messages = append(o.params.Messages, openai.UserMessage(reminder))
	}
}

// classifyOpenAI marks the server's refusals of the request itself as
// permanent. Rate limits (429), timeouts (408), server errors and failed
// connections were already retried by the SDK, with backoff honouring
// Retry-After; another attempt of the task later may still succeed.
func classifyOpenAI(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		code := apiErr.StatusCode
		if code >= 400 && code < 500 && code != http.StatusTooManyRequests && code != http.StatusRequestTimeout {
			return specialists.Permanent(fmt.Errorf("model call: %w", err))
		}
	}
	return fmt.Errorf("model call: %w", err)
}
