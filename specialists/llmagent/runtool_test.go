package llmagent

// The run tool's tests drive the whole agent loop against fake APIs, as
// the package's other tests do, but from inside the package, so that they
// can shorten runTimeout and take the shell away. Their fakes are reduced
// to what a scripted model needs, for both wire formats.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

const runKeyEnv = "LLMAGENT_RUN_TEST_KEY"

// use is one tool call of a scripted model.
type use struct {
	id, name string
	args     map[string]any
}

// outcome is a tool result as the fake API received it.
type outcome struct {
	text    string
	isError bool
}

// wire is one provider's format, as its fake speaks it.
type wire struct {
	name, path string
	config     func(url string) Config
	// respond is the body of a response making the calls of turn.
	respond func(turn []use) any
	// tools lists the tools a request offers, each with its required
	// arguments.
	tools func(req map[string]any) []string
	// results are the tool results a request ends with, by call id.
	results func(req map[string]any) map[string]outcome
}

var anthropicWire = wire{
	name: "anthropic", path: "/v1/messages",
	config: func(url string) Config { return Config{Model: "claude-test", BaseURL: url, APIKeyEnv: runKeyEnv} },
	respond: func(turn []use) any {
		content := []any{}
		for _, u := range turn {
			content = append(content, map[string]any{"type": "tool_use", "id": u.id, "name": u.name, "input": u.args})
		}
		return map[string]any{"id": "msg", "type": "message", "role": "assistant", "model": "claude-test",
			"content": content, "stop_reason": "tool_use", "stop_sequence": nil,
			"usage": map[string]any{"input_tokens": 1, "output_tokens": 1}}
	},
	tools: func(req map[string]any) []string {
		var out []string
		for _, tl := range req["tools"].([]any) {
			tl := tl.(map[string]any)
			out = append(out, fmt.Sprint(tl["name"], tl["input_schema"].(map[string]any)["required"]))
		}
		return out
	},
	results: func(req map[string]any) map[string]outcome {
		msgs := req["messages"].([]any)
		out := map[string]outcome{}
		blocks, _ := msgs[len(msgs)-1].(map[string]any)["content"].([]any)
		for _, b := range blocks {
			b := b.(map[string]any)
			if b["type"] != "tool_result" {
				continue
			}
			var text strings.Builder
			switch c := b["content"].(type) {
			case string:
				text.WriteString(c)
			case []any:
				for _, part := range c {
					text.WriteString(part.(map[string]any)["text"].(string))
				}
			}
			out[b["tool_use_id"].(string)] = outcome{text.String(), b["is_error"] == true}
		}
		return out
	},
}

var openAIWire = wire{
	name: "openai", path: "/v1/chat/completions",
	config: func(url string) Config {
		return Config{Provider: ProviderOpenAI, Model: "gpt-test", BaseURL: url + "/v1", APIKeyEnv: runKeyEnv}
	},
	respond: func(turn []use) any {
		var calls []any
		for _, u := range turn {
			args, _ := json.Marshal(u.args)
			calls = append(calls, map[string]any{"id": u.id, "type": "function",
				"function": map[string]any{"name": u.name, "arguments": string(args)}})
		}
		return map[string]any{"id": "chatcmpl", "object": "chat.completion", "model": "gpt-test",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "tool_calls",
				"message": map[string]any{"role": "assistant", "content": nil, "tool_calls": calls}}},
			"usage": map[string]any{"prompt_tokens": 1, "completion_tokens": 1}}
	},
	tools: func(req map[string]any) []string {
		var out []string
		for _, tl := range req["tools"].([]any) {
			fn := tl.(map[string]any)["function"].(map[string]any)
			out = append(out, fmt.Sprint(fn["name"], fn["parameters"].(map[string]any)["required"]))
		}
		return out
	},
	results: func(req map[string]any) map[string]outcome {
		msgs := req["messages"].([]any)
		out := map[string]outcome{}
		for i := len(msgs) - 1; i >= 0; i-- {
			m := msgs[i].(map[string]any)
			if m["role"] != "tool" {
				break
			}
			text, isError := strings.CutPrefix(m["content"].(string), "error: ")
			out[m["tool_call_id"].(string)] = outcome{text, isError}
		}
		return out
	},
}

// fakeAPI answers with its script, one turn per request, and keeps the
// requests.
type fakeAPI struct {
	wire
	t        *testing.T
	mu       sync.Mutex
	turns    [][]use
	requests []map[string]any
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path != f.path {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		f.t.Errorf("request body: %v", err)
	}
	f.requests = append(f.requests, req)
	if len(f.turns) == 0 {
		// A 400 fails the run at once, where a 5xx would be retried.
		http.Error(w, `{"error":{"type":"invalid_request_error","message":"script exhausted"}}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(f.respond(f.turns[0]))
	f.turns = f.turns[1:]
}

// outcome is the result of call id, from the first request carrying it.
func (f *fakeAPI) outcome(t *testing.T, id string) outcome {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, req := range f.requests {
		if o, ok := f.results(req)[id]; ok {
			return o
		}
	}
	t.Fatalf("no request carries the result of call %s", id)
	return outcome{}
}

// memStore is a job's artifacts in memory, by path.
type memStore map[string]struct {
	task, data string
	mode       fs.FileMode
}

func (m memStore) Files(context.Context, string) ([]artifacts.Entry, error) {
	var out []artifacts.Entry
	for p, f := range m {
		out = append(out, artifacts.Entry{Path: p, Size: int64(len(f.data)), Mode: f.mode, Task: f.task})
	}
	slices.SortFunc(out, func(a, b artifacts.Entry) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

func (m memStore) Read(_ context.Context, _, p string) ([]byte, error) {
	f, ok := m[p]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return []byte(f.data), nil
}

func (m memStore) Blob(context.Context, string) ([]byte, error) { return nil, fs.ErrNotExist }

// agent is one run of the skill with a scripted model.
type agent struct {
	res *specialists.Result
	err error
	req *specialists.Request
	api *fakeAPI
}

// runAgent runs a subtask whose upstream task "design" wrote a design, a
// note and an executable script (and task "other", which is no input, a
// file) with a model that makes the calls of turns, one turn per response.
// configure, if not nil, adjusts the config.
func runAgent(t *testing.T, w wire, configure func(*Config), turns ...[]use) agent {
	t.Helper()
	t.Setenv(runKeyEnv, "secret-key")
	f := &fakeAPI{wire: w, t: t, turns: turns}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	store := memStore{
		"docs/design.md":     {task: "design", data: "# Design\nuse a queue\n", mode: 0o644},
		"docs/notes.md":      {task: "design", data: "notes\n", mode: 0o644},
		"tools/check.sh":     {task: "design", data: "#!/bin/sh\necho checked \"$@\"\n", mode: 0o755},
		"other/unrelated.md": {task: "other", data: "not an input\n", mode: 0o644},
	}
	req := &specialists.Request{Job: "job-1", Task: "architecture", Role: "ml-systems-architect", Skill: "design",
		Title: "Model architecture", Instructions: "Design the model.", Inputs: []string{"design"}, Attempt: 1,
		ScratchRoot: t.TempDir(), Artifacts: store}
	t.Cleanup(func() { _ = req.Cleanup() })
	cfg := w.config(srv.URL)
	if configure != nil {
		configure(&cfg)
	}
	res, err := Skill(cfg)(context.Background(), req)
	return agent{res: res, err: err, req: req, api: f}
}

func runCall(id, command string) use { return use{id, "run", map[string]any{"command": command}} }

func writeCall(id, path, content string) use {
	return use{id, "write_file", map[string]any{"path": path, "content": content}}
}

func finishCall(id string) use { return use{id, "finish", map[string]any{"summary": "done"}} }

func resultFiles(res *specialists.Result) map[string]string {
	out := map[string]string{}
	for _, f := range res.Files {
		out[f.Path] = string(f.Data)
	}
	return out
}

func TestAnAgentRunsCommandsOnItsInputsAndTheFilesItWrote(t *testing.T) {
	for _, w := range []wire{anthropicWire, openAIWire} {
		t.Run(w.name, func(t *testing.T) {
			a := runAgent(t, w, nil,
				[]use{{"u1", "read_input", map[string]any{"path": "docs/design.md"}}},
				[]use{writeCall("u2", "model/arch.md", "# Architecture\n"), writeCall("u3", "model/layers.txt", "4\n")},
				[]use{runCall("u4", "find . -type f | sort && cat model/arch.md docs/design.md && ./tools/check.sh ok")},
				// Written after the workspace was made: copied in before
				// the next command.
				[]use{writeCall("u5", "README.md", "queue-based\n"), writeCall("u6", "model/arch.md", "# Architecture v2\n")},
				[]use{runCall("u7", "cat README.md model/arch.md; echo to stderr >&2; exit 3")},
				[]use{finishCall("u8")},
			)
			if a.err != nil {
				t.Fatal(a.err)
			}
			tools := w.tools(a.api.requests[0])
			if want := "[list_inputs[] read_input[path] write_file[content path] run[command] finish[summary]]"; fmt.Sprint(tools) != want {
				t.Errorf("tools = %v, want %s", tools, want)
			}
			want := outcome{text: "exit 0\n" +
				"./docs/design.md\n./docs/notes.md\n./model/arch.md\n./model/layers.txt\n./tools/check.sh\n" +
				"# Architecture\n# Design\nuse a queue\nchecked ok\n"}
			if got := a.api.outcome(t, "u4"); got != want {
				t.Errorf("the first run's result = %+v, want %+v", got, want)
			}
			// A non-zero exit is a result the model reads, not a refusal.
			want = outcome{text: "exit 3\nqueue-based\n# Architecture v2\nto stderr\n"}
			if got := a.api.outcome(t, "u7"); got != want {
				t.Errorf("the second run's result = %+v, want %+v", got, want)
			}
			wantFiles := map[string]string{"model/arch.md": "# Architecture v2\n", "model/layers.txt": "4\n", "README.md": "queue-based\n"}
			if got := resultFiles(a.res); fmt.Sprint(got) != fmt.Sprint(wantFiles) {
				t.Errorf("files = %v, want %v", got, wantFiles)
			}
		})
	}
}

func TestTheFilesACommandMakesAreNeitherArtifactsNorLeftBehind(t *testing.T) {
	a := runAgent(t, anthropicWire, nil,
		[]use{writeCall("u1", "keep.md", "kept\n")},
		[]use{runCall("u2", `echo made > made.txt && echo changed > keep.md && echo cached > "$HOME/cache" && echo tmp > "$TMPDIR/tmp" && `+
			// A read-only tree, as the go command leaves its module cache.
			`mkdir -p "$HOME/ro/deep" && touch "$HOME/ro/deep/f" && chmod 555 "$HOME/ro/deep" "$HOME/ro"`)},
		[]use{finishCall("u3")},
	)
	if a.err != nil {
		t.Fatal(a.err)
	}
	if got := a.api.outcome(t, "u2"); got != (outcome{text: "exit 0"}) {
		t.Errorf("run result = %+v", got)
	}
	if got := resultFiles(a.res); len(got) != 1 || got["keep.md"] != "kept\n" {
		t.Errorf("files = %v, want keep.md as written", got)
	}
	work, err := a.req.Workdir()
	if err != nil {
		t.Fatal(err)
	}
	if left, err := os.ReadDir(work); err != nil || len(left) != 0 {
		t.Errorf("the scratch directory holds %v (%v) after finish, want nothing", left, err)
	}
	if err := a.req.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if left, err := os.ReadDir(a.req.ScratchRoot); err != nil || len(left) != 0 {
		t.Errorf("the scratch root holds %v (%v) after Cleanup, want nothing", left, err)
	}
}

func TestACommandSeesNoSecretOfTheWorker(t *testing.T) {
	t.Setenv("LLMAGENT_RUN_TEST_SECRET", "do-not-leak")
	a := runAgent(t, anthropicWire, nil, []use{runCall("u1", "env")}, []use{finishCall("u2")})
	if a.err != nil {
		t.Fatal(a.err)
	}
	got := a.api.outcome(t, "u1")
	status, out, _ := strings.Cut(got.text, "\n")
	if status != "exit 0" || got.isError {
		t.Fatalf("env: %+v", got)
	}
	env := map[string]string{}
	for line := range strings.Lines(out) {
		k, v, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
		env[k] = v
	}
	for k, v := range env {
		switch k {
		case "PATH", "HOME", "TMPDIR", "LANG":
		case "PWD", "OLDPWD", "SHLVL", "_": // the shell's own
		default:
			t.Errorf("the command sees %s=%s", k, v)
		}
	}
	if strings.Contains(out, "secret-key") || strings.Contains(out, "do-not-leak") {
		t.Errorf("a secret of the worker reached the command:\n%s", out)
	}
	work, err := a.req.Workdir()
	if err != nil {
		t.Fatal(err)
	}
	if env["PATH"] != os.Getenv("PATH") || env["LANG"] != "C.UTF-8" {
		t.Errorf("PATH=%s LANG=%s, want the worker's PATH and C.UTF-8", env["PATH"], env["LANG"])
	}
	for _, k := range []string{"HOME", "TMPDIR"} {
		if !strings.HasPrefix(env[k], work+string(filepath.Separator)) || strings.HasPrefix(env["PWD"], env[k]) {
			t.Errorf("%s=%s, want a private directory in %s, not the workspace %s", k, env[k], work, env["PWD"])
		}
	}
}

func TestATimedOutCommandIsKilledWithItsChildren(t *testing.T) {
	defer func(d time.Duration) { runTimeout = d }(runTimeout)
	runTimeout = time.Second
	pids := filepath.Join(t.TempDir(), "pids")
	a := runAgent(t, openAIWire, nil,
		[]use{runCall("u1", hang(pids))},
		[]use{finishCall("u2")},
	)
	if a.err != nil {
		t.Fatal(a.err)
	}
	want := outcome{text: "killed after 1s (the time limit of a command)\nstarted\n"}
	if got := a.api.outcome(t, "u1"); got != want {
		t.Errorf("result = %+v, want %+v", got, want)
	}
	assertDead(t, pids)
}

func TestACommandIsKilledWhenTheTaskEnds(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	a := runAgent(t, anthropicWire, func(c *Config) { c.Timeout = time.Second },
		[]use{runCall("u1", hang(pids))},
		[]use{finishCall("u2")},
	)
	if !errors.Is(a.err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the task's deadline", a.err)
	}
	assertDead(t, pids)
}

// hang is a command line that starts a child in the background, writes
// its own pid and the child's to pids, says it started and hangs.
func hang(pids string) string {
	return fmt.Sprintf("sleep 300 & echo $$ $! > %s; echo started; sleep 300", pids)
}

// assertDead checks that the processes whose pids hang wrote have exited.
func assertDead(t *testing.T, pids string) {
	t.Helper()
	if !alive(os.Getpid()) {
		t.Fatal("alive does not see this very process")
	}
	data, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 {
		t.Fatalf("pids file: %q", data)
	}
	for _, f := range fields {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		if alive(pid) {
			t.Errorf("process %d is still running", pid)
		}
	}
}

// alive reports whether pid runs. kill -0 also succeeds on a process that
// is exiting or a zombie, which an init that does not reap orphans (as in
// some containers) leaves for ever, so on Linux its state and flags tell.
// The run tool returns once the killed processes closed its output pipe,
// which they do while exiting, so no wait is needed here.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		// Gone since kill, or no /proc to tell more than kill did.
		_, noProc := os.Stat("/proc/self/stat")
		return noProc != nil
	}
	// After "pid (comm) " come the state, then flags as the seventh field.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	const pfExiting = 0x4
	flags, _ := strconv.ParseUint(fields[6], 10, 64)
	return fields[0] != "Z" && fields[0] != "X" && flags&pfExiting == 0
}

func TestACommandThatCannotStartIsToldToTheModel(t *testing.T) {
	defer func(s string) { shell = s }(shell)
	shell = filepath.Join(t.TempDir(), "no-shell")
	a := runAgent(t, anthropicWire, nil,
		[]use{runCall("u1", "true"), runCall("u2", "  ")},
		[]use{writeCall("u3", "ok.md", "fine\n"), finishCall("u4")},
	)
	if a.err != nil {
		t.Fatal(a.err)
	}
	for id, why := range map[string]string{"u1": "cannot run the command", "u2": "needs a command line"} {
		if got := a.api.outcome(t, id); !got.isError || !strings.Contains(got.text, why) {
			t.Errorf("result %s = %+v, want an error saying %q", id, got, why)
		}
	}
	if got := resultFiles(a.res); len(got) != 1 {
		t.Errorf("files = %v, want ok.md", got)
	}
}

func TestWrittenFilesAreNotCopiedThroughALinkOutOfTheWorkspace(t *testing.T) {
	outside := t.TempDir()
	a := runAgent(t, anthropicWire, nil,
		[]use{runCall("u1", "ln -s "+outside+" out")},
		[]use{writeCall("u2", "out/evil.md", "evil\n")},
		// The command runs all the same: it may be the one clearing the
		// way. Once the link is gone the file is copied in.
		[]use{runCall("u3", "echo still run")},
		[]use{runCall("u4", "rm out")},
		[]use{runCall("u5", "cat out/evil.md")},
		[]use{finishCall("u6")},
	)
	if a.err != nil {
		t.Fatal(a.err)
	}
	if got := a.api.outcome(t, "u3"); got.isError || !strings.HasPrefix(got.text, "exit 0\nstill run\n[written files not copied") || !strings.Contains(got.text, "out/evil.md") {
		t.Errorf("a copy through a link: %+v, want the command's result and a note naming the file", got)
	}
	if left, err := os.ReadDir(outside); err != nil || len(left) != 0 {
		t.Errorf("outside the workspace: %v (%v)", left, err)
	}
	if got := a.api.outcome(t, "u5"); got != (outcome{text: "exit 0\nevil\n"}) {
		t.Errorf("after the link is removed: %+v", got)
	}
}

func TestLongOutputKeepsItsHeadAndTail(t *testing.T) {
	a := runAgent(t, openAIWire, nil,
		[]use{runCall("u1", `i=0; while [ $i -lt 4000 ]; do echo "line $i"; i=$((i+1)); done`)},
		[]use{finishCall("u2")},
	)
	if a.err != nil {
		t.Fatal(a.err)
	}
	var full strings.Builder
	for i := range 4000 {
		fmt.Fprintf(&full, "line %d\n", i)
	}
	s := full.String()
	half := maxRunOutput / 2
	want := fmt.Sprintf("exit 0\n%s\n[... %d bytes cut ...]\n%s", s[:half], len(s)-maxRunOutput, s[len(s)-half:])
	if got := a.api.outcome(t, "u1"); got.text != want {
		t.Errorf("result: %d bytes starting %.40q, ending %q; want %d bytes ending %q",
			len(got.text), got.text, got.text[max(len(got.text)-40, 0):], len(want), want[len(want)-40:])
	}
}

func TestClippedCutsBetweenCharacters(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"abcdefgh", "abcdefgh"},
		{"abcdefghij", "abcd\n[... 2 bytes cut ...]\nghij"},
		// The head would end, and the tail start, inside a euro sign.
		{"ab€xyz€", "ab\n[... 5 bytes cut ...]\nz€"},
		{"€€€€", "€\n[... 6 bytes cut ...]\n€"},
		{"a\xffb", "a\uFFFDb"},
	} {
		whole, bytewise := &clipped{max: 8}, &clipped{max: 8}
		_, _ = whole.Write([]byte(tc.in))
		for i := range len(tc.in) {
			_, _ = bytewise.Write([]byte{tc.in[i]})
		}
		if got := whole.String(); got != tc.want {
			t.Errorf("%q written at once: %q, want %q", tc.in, got, tc.want)
		}
		if got := bytewise.String(); got != tc.want {
			t.Errorf("%q written byte by byte: %q, want %q", tc.in, got, tc.want)
		}
	}
	// A long output is kept within its bound while written.
	c := &clipped{max: 8}
	_, _ = io.Copy(c, strings.NewReader(strings.Repeat("x", 1<<20)+"end"))
	if len(c.head)+len(c.tail) > 2*8 || !strings.HasSuffix(c.String(), "xend") {
		t.Errorf("after 1 MiB: %d bytes kept, %q", len(c.head)+len(c.tail), c.String())
	}
}
