package llmagent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/orchestrate-dev/orchestrate/specialists"
)

// Backoff of the openai provider between attempts, when the server does
// not say how long to wait with Retry-After.
const (
	openAIBackoff    = 500 * time.Millisecond
	openAIMaxBackoff = 30 * time.Second
)

// openAIAPI speaks the chat completions API, as OpenAI and the servers
// compatible with it (Ollama, vLLM) serve it: POST {base}/chat/completions.
type openAIAPI struct {
	base, key  string
	maxRetries int
	client     *http.Client
	body       openAIRequest
}

// openAIRequest is the body of a chat completion request.
type openAIRequest struct {
	Model       string          `json:"model"`
	MaxTokens   int             `json:"max_tokens"`
	Temperature float64         `json:"temperature"`
	Messages    []openAIMessage `json:"messages"`
	Tools       []openAITool    `json:"tools"`
	ToolChoice  string          `json:"tool_choice"`
}

type openAIMessage struct {
	Role       string           `json:"role"`
	Content    string           `json:"content"`
	ToolCalls  []openAIToolCall `json:"tool_calls,omitempty"`
	ToolCallID string           `json:"tool_call_id,omitempty"`
}

type openAIToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name string `json:"name"`
		// Arguments is a JSON object encoded as a string, as the model
		// wrote it: it may be malformed.
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type openAITool struct {
	Type     string         `json:"type"`
	Function openAIFunction `json:"function"`
}

type openAIFunction struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Parameters  map[string]any `json:"parameters"`
}

// openAIResponse is what the loop reads of a chat completion.
type openAIResponse struct {
	Choices []struct {
		Message struct {
			Content   *string          `json:"content"`
			ToolCalls []openAIToolCall `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
	} `json:"usage"`
}

func newOpenAI(cfg Config, key, system, brief string, specs []toolSpec) *openAIAPI {
	base := cfg.BaseURL
	if base == "" {
		base = DefaultOpenAIBaseURL
	}
	tools := make([]openAITool, len(specs))
	for i, t := range specs {
		props, required := t.schema()
		tools[i] = openAITool{Type: "function", Function: openAIFunction{Name: t.name, Description: t.description,
			Parameters: map[string]any{"type": "object", "properties": props, "required": required}}}
	}
	return &openAIAPI{
		base:       strings.TrimSuffix(base, "/"),
		key:        key,
		maxRetries: cfg.MaxRetries,
		client:     &http.Client{},
		body: openAIRequest{
			Model:       cfg.Model,
			MaxTokens:   cfg.MaxTokens,
			Temperature: cfg.Temperature,
			Messages: []openAIMessage{
				{Role: "system", Content: system},
				{Role: "user", Content: brief},
			},
			Tools:      tools,
			ToolChoice: "auto",
		},
	}
}

func (o *openAIAPI) request() any { return o.body }

// send posts the request, retrying rate limits (429), timeouts (408),
// server errors (5xx) and failed connections with backoff. Any other 4xx
// is permanent; errors that outlast the retries are transient.
func (o *openAIAPI) send(ctx context.Context) ([]byte, error) {
	body, err := json.Marshal(o.body)
	if err != nil {
		return nil, fmt.Errorf("model call: %w", err)
	}
	for attempt := 0; ; attempt++ {
		data, wait, err := o.post(ctx, body)
		if err == nil {
			return data, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if specialists.IsPermanent(err) || attempt >= o.maxRetries {
			return nil, err
		}
		if wait < 0 {
			wait = backoff(attempt)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// post makes one attempt. wait is how long the server asked to be left
// alone before the next one, or negative when it did not say.
func (o *openAIAPI) post(ctx context.Context, body []byte) (data []byte, wait time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.base+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return nil, -1, specialists.Permanent(fmt.Errorf("model call: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	if o.key != "" {
		req.Header.Set("Authorization", "Bearer "+o.key)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, -1, fmt.Errorf("model call: %w", err)
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, -1, fmt.Errorf("model call: read the response: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		return data, -1, nil
	}
	err = fmt.Errorf("model call: POST %s: %s: %s", req.URL, resp.Status, bytes.TrimSpace(data))
	code := resp.StatusCode
	if code >= 400 && code < 500 && code != http.StatusTooManyRequests && code != http.StatusRequestTimeout {
		return nil, -1, specialists.Permanent(err)
	}
	return nil, retryAfter(resp.Header), err
}

// retryAfter reads Retry-After-Ms or Retry-After (seconds or a date);
// it is negative when neither says, and at most openAIMaxBackoff.
func retryAfter(h http.Header) time.Duration {
	var d time.Duration = -1
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms >= 0 {
		d = time.Duration(ms * float64(time.Millisecond))
	} else if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
			d = time.Duration(s * float64(time.Second))
		} else if t, err := http.ParseTime(v); err == nil {
			d = max(time.Until(t), 0)
		}
	}
	return min(d, openAIMaxBackoff)
}

// backoff doubles from openAIBackoff up to openAIMaxBackoff, with jitter
// so that workers throttled together do not come back together.
func backoff(attempt int) time.Duration {
	d := min(openAIBackoff<<min(attempt, 10), openAIMaxBackoff)
	return d/2 + rand.N(d/2+1)
}

func (o *openAIAPI) accept(data []byte) (reply, error) {
	var resp openAIResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		return reply{}, err
	}
	if len(resp.Choices) == 0 {
		return reply{}, errors.New("the response has no choices")
	}
	m := resp.Choices[0].Message
	msg := openAIMessage{Role: "assistant", ToolCalls: m.ToolCalls}
	if m.Content != nil {
		msg.Content = *m.Content
	}
	o.body.Messages = append(o.body.Messages, msg)
	rep := reply{inputTokens: resp.Usage.PromptTokens, outputTokens: resp.Usage.CompletionTokens}
	for _, c := range m.ToolCalls {
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
		o.body.Messages = append(o.body.Messages, openAIMessage{Role: "tool", ToolCallID: res.id, Content: content})
	}
	if len(results) == 0 {
		o.body.Messages = append(o.body.Messages, openAIMessage{Role: "user", Content: reminder})
	}
}
