package llmagent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/llmagent"
)

// call is one tool call in a scripted chat completion; arguments is the
// JSON string the model wrote, which may be malformed.
type call struct {
	id, name, arguments string
}

// completion is one scripted response of the chat completions fake: an
// HTTP error status, or a message with tool calls or prose only.
type completion struct {
	status int
	calls  []call
	text   string
}

// chatFake speaks chat completions, answering with its script in order
// and keeping the requests it received.
type chatFake struct {
	t        *testing.T
	mu       sync.Mutex
	script   []completion
	requests []map[string]any
	auth     []string
	srv      *httptest.Server
}

func newChatFake(t *testing.T, script ...completion) *chatFake {
	f := &chatFake{t: t, script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *chatFake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil {
		f.t.Errorf("request body: %v", err)
	}
	f.requests = append(f.requests, req)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	if len(f.script) == 0 {
		http.Error(w, `{"error":{"message":"script exhausted"}}`, http.StatusInternalServerError)
		return
	}
	next := f.script[0]
	f.script = f.script[1:]
	w.Header().Set("Content-Type", "application/json")
	if next.status != 0 {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(next.status)
		fmt.Fprintf(w, `{"error":{"message":"status %d","type":"requests"}}`, next.status)
		return
	}
	msg := map[string]any{"role": "assistant", "content": nil}
	if next.text != "" {
		msg["content"] = next.text
	}
	finish := "stop"
	if len(next.calls) > 0 {
		var calls []map[string]any
		for _, c := range next.calls {
			calls = append(calls, map[string]any{"id": c.id, "type": "function",
				"function": map[string]any{"name": c.name, "arguments": c.arguments}})
		}
		msg["tool_calls"] = calls
		finish = "tool_calls"
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": fmt.Sprintf("chatcmpl-%d", len(f.requests)), "object": "chat.completion", "model": req["model"],
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
		"usage":   map[string]any{"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
	})
}

func (f *chatFake) received() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

func (f *chatFake) authorizations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.auth
}

// toolMessages returns the tool messages that end a request, by
// tool_call_id.
func toolMessages(t *testing.T, req map[string]any) map[string]string {
	t.Helper()
	msgs := req["messages"].([]any)
	out := map[string]string{}
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i].(map[string]any)
		if m["role"] != "tool" {
			break
		}
		out[m["tool_call_id"].(string)] = m["content"].(string)
	}
	return out
}

func openAIConfig(f *chatFake) llmagent.Config {
	return llmagent.Config{Provider: llmagent.ProviderOpenAI, Model: "gpt-test", BaseURL: f.srv.URL + "/v1", APIKeyEnv: keyEnv, MaxRetries: 2}
}

// chatWorker is the script of an agent that reads its input, writes three
// files and finishes.
func chatWorker() []completion {
	return []completion{
		{text: "Let me look.", calls: []call{{"c1", "list_inputs", `{}`}}},
		{calls: []call{{"c2", "read_input", `{"path":"docs/design.md"}`}}},
		{calls: []call{
			{"c3", "write_file", `{"path":"model/arch.md","content":"# Architecture\n"}`},
			{"c4", "write_file", `{"path":"model/layers.txt","content":"4\n"}`},
		}},
		{calls: []call{{"c5", "write_file", `{"path":"README.md","content":"queue-based\n"}`}}},
		{calls: []call{{"c6", "finish", `{"summary":"Designed a 4-layer model."}`}}},
	}
}

func TestAnOpenAIAgentReadsItsInputsAndItsWrittenFilesBecomeArtifacts(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	f := newChatFake(t, chatWorker()...)
	res, err := llmagent.Skill(openAIConfig(f))(context.Background(), request(t))
	if err != nil {
		t.Fatal(err)
	}
	checkWorkerResult(t, res)

	reqs := f.received()
	if len(reqs) != 5 {
		t.Fatalf("%d requests, want 5", len(reqs))
	}
	for i, a := range f.authorizations() {
		if a != "Bearer secret-key" {
			t.Errorf("request %d: Authorization = %q", i, a)
		}
	}
	first := reqs[0]
	if first["model"] != "gpt-test" || first["tool_choice"] != "auto" {
		t.Errorf("model %v, tool_choice %v", first["model"], first["tool_choice"])
	}
	msgs := first["messages"].([]any)
	if sys := msgs[0].(map[string]any); sys["role"] != "system" || !strings.Contains(fmt.Sprint(sys["content"]), "ml-systems-architect") {
		t.Errorf("the first message is %v, want the system prompt", sys)
	}
	brief := fmt.Sprint(msgs[1])
	for _, w := range []string{"Model architecture", "Design the model.", "layers: 4", "Skill: design"} {
		if !strings.Contains(brief, w) {
			t.Errorf("the brief %s does not say %q", brief, w)
		}
	}
	var names []string
	for _, tl := range first["tools"].([]any) {
		tl := tl.(map[string]any)
		fn := tl["function"].(map[string]any)
		if tl["type"] != "function" || fn["parameters"].(map[string]any)["type"] != "object" {
			t.Errorf("tool %v", tl)
		}
		names = append(names, fn["name"].(string))
	}
	if fmt.Sprint(names) != "[list_inputs read_input write_file run finish]" {
		t.Errorf("tools = %v", names)
	}

	if listed := toolMessages(t, reqs[1]); listed["c1"] != "docs/design.md\ndocs/notes.md" {
		t.Errorf("list_inputs result = %v", listed)
	}
	if read := toolMessages(t, reqs[2]); read["c2"] != "# Design\nuse a queue\n" {
		t.Errorf("read_input result = %v", read)
	}
	if written := toolMessages(t, reqs[3]); len(written) != 2 || !strings.HasPrefix(written["c3"], "wrote model/arch.md") || !strings.HasPrefix(written["c4"], "wrote model/layers.txt") {
		t.Errorf("write_file results = %v", written)
	}
	// The system prompt, the brief, then per turn the assistant's message
	// and one tool message per call: 2 + 2 + 2 + 3 + 2.
	if n := len(reqs[4]["messages"].([]any)); n != 11 {
		t.Errorf("the last request has %d messages, want 11", n)
	}
	assistant := reqs[1]["messages"].([]any)[2].(map[string]any)
	if calls := fmt.Sprint(assistant["tool_calls"]); assistant["role"] != "assistant" || !strings.Contains(calls, "c1") || !strings.Contains(calls, "list_inputs") {
		t.Errorf("the assistant's message sent back is %v", assistant)
	}
}

func TestAnOpenAIRateLimitIsRetried(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	f := newChatFake(t, completion{status: http.StatusTooManyRequests}, completion{calls: []call{{"c1", "finish", `{"summary":"nothing to do"}`}}})
	res, err := llmagent.Skill(openAIConfig(f))(context.Background(), request(t))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.received()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	if !strings.Contains(res.Summary, "nothing to do") || !strings.Contains(res.Summary, "1 calls") {
		t.Errorf("summary = %q", res.Summary)
	}
}

func TestOpenAIFailuresAreTransientOrPermanentByStatus(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	for _, tc := range []struct {
		name      string
		script    []completion
		permanent bool
	}{
		{"a bad request is permanent at once", []completion{{status: http.StatusBadRequest}}, true},
		{"server errors that outlast the retries are transient", []completion{{status: 500}, {status: 502}, {status: 503}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newChatFake(t, tc.script...)
			_, err := llmagent.Skill(openAIConfig(f))(context.Background(), request(t))
			if err == nil || specialists.IsPermanent(err) != tc.permanent {
				t.Errorf("err = %v, want permanent %v", err, tc.permanent)
			}
			if n := len(f.received()); n != len(tc.script) {
				t.Errorf("%d requests, want %d", n, len(tc.script))
			}
		})
	}
}

func TestMalformedToolArgumentsAreToldToTheModelWhichCarriesOn(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	f := newChatFake(t,
		completion{calls: []call{
			{"c1", "write_file", `{"path": "a.md", "content": `},
			{"c2", "write_file", `{"path":"../../etc/passwd","content":"root::0:0"}`},
			{"c3", "delete_file", `{"path":"ok.md"}`},
		}},
		completion{calls: []call{{"c4", "write_file", `{"path":"ok.md","content":"fine\n"}`}, {"c5", "finish", `{"summary":"done"}`}}},
	)
	res, err := llmagent.Skill(openAIConfig(f))(context.Background(), request(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := files(res); len(got) != 1 || got["ok.md"] != "fine\n" {
		t.Errorf("files = %v, want only ok.md", got)
	}
	reqs := f.received()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	results := toolMessages(t, reqs[1])
	for id, why := range map[string]string{"c1": "not a JSON object", "c2": "../../etc/passwd", "c3": `no tool "delete_file"`} {
		if got := results[id]; !strings.HasPrefix(got, "error: ") || !strings.Contains(got, why) {
			t.Errorf("tool message %s = %q, want an error saying %q", id, got, why)
		}
	}
}

func TestTheSameOpenAITaskRunTwiceMakesNoRequests(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	f := newChatFake(t, chatWorker()...)
	cfg := openAIConfig(f)
	cfg.Cache = &mapCache{m: map[string][]byte{}}
	runTwiceFromCache(t, cfg, func() int { return len(f.received()) })
}

func TestALocalServerIsReachedWithoutAKey(t *testing.T) {
	t.Setenv(keyEnv, "")
	f := newChatFake(t, completion{calls: []call{{"c1", "finish", `{"summary":"ok"}`}}})
	if _, err := llmagent.Skill(openAIConfig(f))(context.Background(), request(t)); err != nil {
		t.Fatal(err)
	}
	if auth := f.authorizations(); len(auth) != 1 || auth[0] != "" {
		t.Errorf("Authorization headers = %q, want one request without", auth)
	}

	// Without a base_url the server is OpenAI's, which needs the key.
	cfg := openAIConfig(f)
	cfg.BaseURL, cfg.APIKeyEnv = "", ""
	t.Setenv(llmagent.DefaultOpenAIAPIKeyEnv, "")
	_, err := llmagent.Skill(cfg)(context.Background(), request(t))
	if !specialists.IsPermanent(err) || !strings.Contains(err.Error(), llmagent.DefaultOpenAIAPIKeyEnv) {
		t.Errorf("err = %v, want a permanent one naming %s", err, llmagent.DefaultOpenAIAPIKeyEnv)
	}
}
