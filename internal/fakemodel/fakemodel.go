// Package fakemodel is a scripted model server for tests: it speaks
// Anthropic's Messages API (POST /v1/messages) on a local port, answers
// each request with the next reply of its script, and keeps the requests
// it received. Tests of the llm executor and planner run against it with
// no network.
package fakemodel

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Reply is one scripted response: an HTTP error Status, or an assistant
// message with Text and tool Uses.
type Reply struct {
	Status int
	Text   string
	Uses   []Use
	// InputTokens and OutputTokens are the usage reported; zero means 100
	// and 10.
	InputTokens, OutputTokens int64
}

// Use is one tool call of a reply.
type Use struct {
	ID, Name string
	Input    any
}

// Server is a running fake.
type Server struct {
	URL string
	// Key is the API key every request must carry (x-api-key).
	Key string

	t        testing.TB
	mu       sync.Mutex
	script   []Reply
	respond  func(req map[string]any) Reply
	requests []map[string]any
}

// StartFunc serves the replies respond computes from each request's body,
// until the test ends. respond is called with the server's lock held: one
// request at a time.
func StartFunc(t testing.TB, key string, respond func(req map[string]any) Reply) *Server {
	s := Start(t, key)
	s.respond = respond
	return s
}

// SetFunc replaces how the server answers (see StartFunc).
func (s *Server) SetFunc(respond func(req map[string]any) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.respond = respond
}

// Start serves script until the test ends. A request beyond the script
// gets a 500 error.
func Start(t testing.TB, key string, script ...Reply) *Server {
	s := &Server{Key: key, t: t, script: script}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Add appends replies to the script.
func (s *Server) Add(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, replies...)
}

// Requests returns the bodies of the requests received so far.
func (s *Server) Requests() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.requests...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if got := r.Header.Get("X-Api-Key"); got != s.Key {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil {
		s.t.Errorf("fakemodel: request body: %v", err)
	}
	s.requests = append(s.requests, req)
	w.Header().Set("Content-Type", "application/json")
	var next Reply
	switch {
	case s.respond != nil:
		next = s.respond(req)
	case len(s.script) == 0:
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"type":"error","error":{"type":"api_error","message":"the script is exhausted"}}`)
		return
	default:
		next = s.script[0]
		s.script = s.script[1:]
	}
	if next.Status != 0 {
		// Retry quickly: the SDK honours retry-after-ms.
		w.Header().Set("Retry-After-Ms", "1")
		w.WriteHeader(next.Status)
		fmt.Fprintf(w, `{"type":"error","error":{"type":"invalid_request_error","message":"status %d"}}`, next.Status)
		return
	}
	content := []map[string]any{}
	if next.Text != "" {
		content = append(content, map[string]any{"type": "text", "text": next.Text})
	}
	stop := "end_turn"
	for _, u := range next.Uses {
		content = append(content, map[string]any{"type": "tool_use", "id": u.ID, "name": u.Name, "input": u.Input})
		stop = "tool_use"
	}
	in, out := next.InputTokens, next.OutputTokens
	if in == 0 && out == 0 {
		in, out = 100, 10
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": fmt.Sprintf("msg_%d", len(s.requests)), "type": "message", "role": "assistant", "model": req["model"],
		"content": content, "stop_reason": stop, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": in, "output_tokens": out},
	})
}

// ToolResults returns the tool_result blocks of a request's last message
// by tool_use_id: what the client answered to the previous reply's tools.
func ToolResults(req map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	msgs, _ := req["messages"].([]any)
	if len(msgs) == 0 {
		return out
	}
	last, _ := msgs[len(msgs)-1].(map[string]any)
	blocks, _ := last["content"].([]any)
	for _, b := range blocks {
		if b, ok := b.(map[string]any); ok && b["type"] == "tool_result" {
			id, _ := b["tool_use_id"].(string)
			out[id] = b
		}
	}
	return out
}

// Text is the text of a tool_result block.
func Text(block map[string]any) string { return contentText(block["content"]) }

// contentText reads a message's or block's content: a string, or a list
// of text blocks.
func contentText(content any) string {
	switch c := content.(type) {
	case string:
		return c
	case []any:
		var s string
		for _, part := range c {
			if p, ok := part.(map[string]any); ok {
				t, _ := p["text"].(string)
				s += t
			}
		}
		return s
	}
	return ""
}

// FirstText is the text of a request's first message: the subtask's brief
// for the llm executor, the prompt for the planner.
func FirstText(req map[string]any) string {
	msgs, _ := req["messages"].([]any)
	if len(msgs) == 0 {
		return ""
	}
	first, _ := msgs[0].(map[string]any)
	return contentText(first["content"])
}

// Turns counts the assistant messages of a request: the replies the
// client already had in this conversation.
func Turns(req map[string]any) int {
	n := 0
	msgs, _ := req["messages"].([]any)
	for _, m := range msgs {
		if m, ok := m.(map[string]any); ok && m["role"] == "assistant" {
			n++
		}
	}
	return n
}
