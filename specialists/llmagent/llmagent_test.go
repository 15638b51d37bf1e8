package llmagent_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/internal/fakemodel"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/llmagent"
)

const keyEnv = "LLMAGENT_TEST_KEY"

// toolUse is one tool call in a scripted response.
type toolUse struct {
	id, name string
	input    any
}

// reply is one scripted response of the fake: an HTTP error status, or
// a message using tools (stop_reason tool_use) or ending its turn.
type reply struct {
	status int
	uses   []toolUse
	text   string
}

// fake speaks the Messages API (fakemodel), answering with its script in
// order and keeping the request bodies it received.
type fake struct {
	srv *fakemodel.Server
}

func newFake(t *testing.T, script ...reply) *fake {
	replies := make([]fakemodel.Reply, len(script))
	for i, r := range script {
		uses := make([]fakemodel.Use, len(r.uses))
		for k, u := range r.uses {
			uses[k] = fakemodel.Use{ID: u.id, Name: u.name, Input: u.input}
		}
		replies[i] = fakemodel.Reply{Status: r.status, Text: r.text, Uses: uses}
	}
	return &fake{srv: fakemodel.Start(t, "secret-key", replies...)}
}

func (f *fake) received() []map[string]any { return f.srv.Requests() }

// toolResults returns the tool_result blocks of the last message of a
// request, by tool_use_id.
func toolResults(t *testing.T, req map[string]any) map[string]map[string]any {
	t.Helper()
	msgs := req["messages"].([]any)
	last := msgs[len(msgs)-1].(map[string]any)
	if last["role"] != "user" {
		t.Fatalf("last message is from %v", last["role"])
	}
	out := map[string]map[string]any{}
	blocks, _ := last["content"].([]any)
	for _, b := range blocks {
		if b := b.(map[string]any); b["type"] == "tool_result" {
			out[b["tool_use_id"].(string)] = b
		}
	}
	return out
}

// resultText is the text a tool_result block carries.
func resultText(b map[string]any) string {
	switch c := b["content"].(type) {
	case string:
		return c
	case []any:
		var s strings.Builder
		for _, part := range c {
			s.WriteString(fmt.Sprint(part.(map[string]any)["text"]))
		}
		return s.String()
	}
	return ""
}

// request is a subtask whose upstream task "design" wrote two files.
func request(t *testing.T) *specialists.Request {
	t.Helper()
	r := testenv.StartRedis(t)
	store := artifacts.NewStore(r.Client(t), r.Prefix, artifacts.Limits{})
	if _, err := store.Record(context.Background(), "job-1", "design", []artifacts.File{
		{Path: "docs/design.md", Data: []byte("# Design\nuse a queue\n")},
		{Path: "docs/notes.md", Data: []byte("notes\n")},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Record(context.Background(), "job-1", "other", []artifacts.File{
		{Path: "other/unrelated.md", Data: []byte("not an input\n")},
	}); err != nil {
		t.Fatal(err)
	}
	return &specialists.Request{Job: "job-1", Task: "architecture", Role: "ml-systems-architect", Skill: "design",
		Title: "Model architecture", Instructions: "Design the model.", Params: map[string]string{"layers": "4"},
		Inputs: []string{"design"}, Attempt: 1, ScratchRoot: t.TempDir(), Artifacts: store}
}

func config(f *fake) llmagent.Config {
	return llmagent.Config{Model: "claude-test", BaseURL: f.srv.URL, APIKeyEnv: keyEnv, MaxRetries: 2}
}

func files(res *specialists.Result) map[string]string {
	out := map[string]string{}
	for _, file := range res.Files {
		out[file.Path] = string(file.Data)
	}
	return out
}

// worker is the script of an agent that reads its input, writes three
// files and finishes.
func worker() []reply {
	return []reply{
		{text: "Let me look.", uses: []toolUse{{"t1", "list_inputs", map[string]any{}}}},
		{uses: []toolUse{{"t2", "read_input", map[string]any{"path": "docs/design.md"}}}},
		{uses: []toolUse{
			{"t3", "write_file", map[string]any{"path": "model/arch.md", "content": "# Architecture\n"}},
			{"t4", "write_file", map[string]any{"path": "model/layers.txt", "content": "4\n"}},
		}},
		{uses: []toolUse{{"t5", "write_file", map[string]any{"path": "README.md", "content": "queue-based\n"}}}},
		{uses: []toolUse{{"t6", "finish", map[string]any{"summary": "Designed a 4-layer model."}}}},
	}
}

// checkWorkerResult checks the result of a run of the worker script, of
// either provider: its three files and a summary with its usage.
func checkWorkerResult(t *testing.T, res *specialists.Result) {
	t.Helper()
	want := map[string]string{"model/arch.md": "# Architecture\n", "model/layers.txt": "4\n", "README.md": "queue-based\n"}
	if got := files(res); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("files = %v, want %v", got, want)
	}
	if !strings.Contains(res.Summary, "Designed a 4-layer model.") || !strings.Contains(res.Summary, "5 calls, 500 input tokens, 50 output tokens") {
		t.Errorf("summary = %q", res.Summary)
	}
}

func TestAnAgentReadsItsInputsAndItsWrittenFilesBecomeArtifacts(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	f := newFake(t, worker()...)
	res, err := llmagent.Skill(config(f))(context.Background(), request(t))
	if err != nil {
		t.Fatal(err)
	}
	checkWorkerResult(t, res)

	reqs := f.received()
	if len(reqs) != 5 {
		t.Fatalf("%d requests, want 5", len(reqs))
	}
	first := reqs[0]
	if first["model"] != "claude-test" || first["max_tokens"] != float64(llmagent.DefaultMaxTokens) {
		t.Errorf("model %v, max_tokens %v", first["model"], first["max_tokens"])
	}
	if sys := fmt.Sprint(first["system"]); !strings.Contains(sys, "ml-systems-architect") {
		t.Errorf("system = %s", sys)
	}
	brief := fmt.Sprint(first["messages"])
	for _, w := range []string{"Model architecture", "Design the model.", "layers: 4", "Skill: design"} {
		if !strings.Contains(brief, w) {
			t.Errorf("the first message %s does not say %q", brief, w)
		}
	}
	var names []string
	for _, tl := range first["tools"].([]any) {
		names = append(names, tl.(map[string]any)["name"].(string))
	}
	if fmt.Sprint(names) != "[list_inputs read_input write_file run finish]" {
		t.Errorf("tools = %v", names)
	}

	listed := toolResults(t, reqs[1])["t1"]
	if listed == nil || resultText(listed) != "docs/design.md\ndocs/notes.md" || listed["is_error"] == true {
		t.Errorf("list_inputs result = %v", listed)
	}
	if read := toolResults(t, reqs[2])["t2"]; read == nil || resultText(read) != "# Design\nuse a queue\n" {
		t.Errorf("read_input result = %v", read)
	}
	if written := toolResults(t, reqs[3]); written["t3"] == nil || written["t4"] == nil || len(written) != 2 {
		t.Errorf("write_file results = %v", written)
	}
	msgs := reqs[4]["messages"].([]any)
	if len(msgs) != 9 {
		t.Errorf("the last request has %d messages, want 9 (the brief and four turns)", len(msgs))
	}
}

func TestARateLimitIsRetried(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	f := newFake(t, reply{status: http.StatusTooManyRequests}, reply{uses: []toolUse{{"t1", "finish", map[string]any{"summary": "nothing to do"}}}})
	res, err := llmagent.Skill(config(f))(context.Background(), request(t))
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

func TestFailuresThatNoRetryFixesArePermanent(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	endless := make([]reply, 3)
	for i := range endless {
		endless[i] = reply{uses: []toolUse{{fmt.Sprint("t", i), "list_inputs", map[string]any{}}}}
	}
	for _, tc := range []struct {
		name   string
		script []reply
		want   string
	}{
		{"a bad request", []reply{{status: http.StatusBadRequest}}, "400"},
		{"a model that does not finish within max_turns", endless, "did not finish within 3 turns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.script...)
			cfg := config(f)
			cfg.MaxTurns = 3
			_, err := llmagent.Skill(cfg)(context.Background(), request(t))
			if !specialists.IsPermanent(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a permanent one saying %q", err, tc.want)
			}
			if n := len(f.received()); n != len(tc.script) {
				t.Errorf("%d requests, want %d", n, len(tc.script))
			}
		})
	}
}

func TestServerErrorsThatOutlastTheRetriesAreTransient(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	f := newFake(t, reply{status: 529}, reply{status: 500}, reply{status: 503})
	_, err := llmagent.Skill(config(f))(context.Background(), request(t))
	if err == nil || specialists.IsPermanent(err) {
		t.Errorf("err = %v, want a transient one", err)
	}
	if n := len(f.received()); n != 3 {
		t.Errorf("%d requests, want 3 (two retries)", n)
	}
}

func TestBadToolCallsAreToldToTheModelWhichCarriesOn(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	f := newFake(t,
		reply{uses: []toolUse{
			{"t1", "write_file", map[string]any{"path": "../../etc/passwd", "content": "root::0:0"}},
			{"t2", "write_file", map[string]any{"path": 7}},
			{"t3", "read_input", map[string]any{"path": "other/unrelated.md"}},
			{"t4", "delete_file", map[string]any{"path": "ok.md"}},
		}},
		reply{uses: []toolUse{{"t5", "write_file", map[string]any{"path": "ok.md", "content": "fine\n"}}, {"t6", "finish", map[string]any{"summary": "done"}}}},
	)
	res, err := llmagent.Skill(config(f))(context.Background(), request(t))
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
	results := toolResults(t, reqs[1])
	for id, why := range map[string]string{"t1": "../../etc/passwd", "t2": "not a JSON object", "t3": "not an input", "t4": `no tool "delete_file"`} {
		if b := results[id]; b == nil || b["is_error"] != true || !strings.Contains(resultText(b), why) {
			t.Errorf("tool_result %s = %v, want an error saying %q", id, b, why)
		}
	}
}

// mapCache is a Cache in memory.
type mapCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *mapCache) Get(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok, nil
}

func (c *mapCache) Put(_ context.Context, key string, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = data
	return nil
}

func TestTheSameTaskRunTwiceIsAnsweredFromTheCache(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	r := testenv.StartRedis(t)
	for name, cache := range map[string]llmagent.Cache{
		"in memory": &mapCache{m: map[string][]byte{}},
		"in Redis":  llmagent.NewRedisCache(r.Client(t), r.Prefix+"llm:", 0),
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, worker()...)
			cfg := config(f)
			cfg.Cache = cache
			runTwiceFromCache(t, cfg, func() int { return len(f.received()) })
		})
	}
}

// runTwiceFromCache runs one task twice with cfg, whose fake answers the
// five calls of worker(), and checks that the second run is served from
// the cache: no request reaches the fake, and the files are the same.
func runTwiceFromCache(t *testing.T, cfg llmagent.Config, requests func() int) {
	t.Helper()
	req := request(t)
	first, err := llmagent.Skill(cfg)(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if n := requests(); n != 5 {
		t.Fatalf("the first run made %d requests, want 5", n)
	}
	req.Attempt = 2
	second, err := llmagent.Skill(cfg)(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if n := requests(); n != 5 {
		t.Errorf("the second run made %d requests, want none", n-5)
	}
	if fmt.Sprint(files(first)) != fmt.Sprint(files(second)) {
		t.Errorf("second run files %v, first %v", files(second), files(first))
	}
	if !strings.Contains(second.Summary, "0 calls") || !strings.Contains(second.Summary, "5 responses from cache") {
		t.Errorf("summary = %q", second.Summary)
	}
}

func TestAMissingAPIKeyIsPermanentAndNamesTheVariable(t *testing.T) {
	t.Setenv(keyEnv, "")
	f := newFake(t)
	_, err := llmagent.Skill(config(f))(context.Background(), request(t))
	if !specialists.IsPermanent(err) || !strings.Contains(err.Error(), keyEnv) {
		t.Errorf("err = %v, want a permanent one naming %s", err, keyEnv)
	}
	if n := len(f.received()); n != 0 {
		t.Errorf("%d requests without a key", n)
	}
}

func TestTheSystemPromptComesFromItsFile(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	f := newFake(t, reply{uses: []toolUse{{"t1", "finish", map[string]any{"summary": "ok"}}}})
	cfg := config(f)
	cfg.SystemPrompt = t.TempDir() + "/prompt.md"
	if err := os.WriteFile(cfg.SystemPrompt, []byte("You design models carefully."), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := llmagent.Skill(cfg)(context.Background(), request(t)); err != nil {
		t.Fatal(err)
	}
	if sys := fmt.Sprint(f.received()[0]["system"]); !strings.Contains(sys, "You design models carefully.") {
		t.Errorf("system = %s", sys)
	}
	cfg.SystemPrompt += ".missing"
	if _, err := llmagent.Skill(cfg)(context.Background(), request(t)); !specialists.IsPermanent(err) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing prompt file: err = %v", err)
	}
}

func TestAModelThatAnswersInProseIsRemindedOfTheTools(t *testing.T) {
	t.Setenv(keyEnv, "secret-key")
	f := newFake(t, reply{text: "Here is my design: ..."}, reply{uses: []toolUse{{"t1", "finish", map[string]any{"summary": "ok"}}}})
	if _, err := llmagent.Skill(config(f))(context.Background(), request(t)); err != nil {
		t.Fatal(err)
	}
	msgs := f.received()[1]["messages"].([]any)
	if last := fmt.Sprint(msgs[len(msgs)-1]); !strings.Contains(last, "call finish") {
		t.Errorf("the reminder is %s", last)
	}
}
