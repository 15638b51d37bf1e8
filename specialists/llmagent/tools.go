package llmagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/internal/procgroup"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// maxInputRead bounds what one read_input returns, so that one large
// upstream artifact cannot fill the model's context.
const maxInputRead = 256 << 10

// toolSpec declares a tool whose arguments are all required strings; each
// provider offers the same tools in its own format.
type toolSpec struct {
	name, description string
	args              map[string]string
}

// toolSpecs are the tools offered to the model.
var toolSpecs = []toolSpec{
	{"list_inputs", "List the paths of the files the upstream subtasks wrote, which this subtask may read.", nil},
	{"read_input", "Read one of the files listed by list_inputs.",
		map[string]string{"path": "the file's path, as list_inputs gives it"}},
	{"write_file", "Write a file of this subtask's result. Paths are relative, with forward slashes; writing a path again replaces it.",
		map[string]string{"path": "relative path such as docs/design.md", "content": "the whole content of the file"}},
	{"run", fmt.Sprintf("Run a shell command line (/bin/sh -c) in a scratch directory holding the inputs, at their paths, and the files written so far. "+
		"The result is the exit status (exit N, or killed after the time limit of %v) then the combined output, cut in the middle beyond %d KiB. "+
		"Files the command creates or changes are not part of the result: write_file what you want to keep. "+
		"Processes it leaves in the background are killed when it ends.", defaultRunTimeout, maxRunOutput>>10),
		map[string]string{"command": "the command line, such as: ls -R && sh test.sh"}},
	{"finish", "Finish the subtask once every file is written.",
		map[string]string{"summary": "one or two sentences on what was produced"}},
}

// schema returns the JSON schema properties and the sorted required
// arguments of the tool.
func (t toolSpec) schema() (props map[string]any, required []string) {
	props = map[string]any{}
	required = []string{}
	for arg, doc := range t.args {
		props[arg] = map[string]string{"type": "string", "description": doc}
		required = append(required, arg)
	}
	slices.Sort(required)
	return props, required
}

// toolCall is one tool use the model asked for, in any provider's format.
type toolCall struct {
	id, name string
	input    json.RawMessage
}

// toolResult answers a toolCall; isError tells the model its call was
// refused.
type toolResult struct {
	id, content string
	isError     bool
}

// session is the state the tools of one run share.
type session struct {
	req     *specialists.Request
	inputs  []artifacts.Entry
	written []artifacts.File
	summary string
	done    bool
	// ws is where run runs commands, made at the first run.
	ws *workspace
	// runTimeout bounds one command of the run tool.
	runTimeout time.Duration
}

// close removes the run tool's workspace, if a command made one: the
// commands' files are not part of the result, and removing them here also
// empties what the request's Cleanup cannot (read-only directories, see
// procgroup.RemoveAll). Best effort: Cleanup tries again, and a subtask is
// not failed for its scratch files.
func (s *session) close() {
	if s.ws != nil {
		_ = procgroup.RemoveAll(s.ws.base)
		s.ws = nil
	}
}

// newSession lists the artifacts of the subtask's upstream subtasks.
func newSession(ctx context.Context, req *specialists.Request) (*session, error) {
	s := &session{req: req}
	if len(req.Inputs) == 0 || req.Artifacts == nil {
		return s, nil
	}
	entries, err := req.Artifacts.Files(ctx, req.Job)
	if err != nil {
		return nil, fmt.Errorf("list the inputs of task %s: %w", req.Task, err)
	}
	for _, e := range entries {
		if slices.Contains(req.Inputs, e.Task) {
			s.inputs = append(s.inputs, e)
		}
	}
	return s, nil
}

// toolError is a failure the model is told about, so that it can correct
// itself; any other error from call ends the run.
type toolError struct{ msg string }

func (e *toolError) Error() string { return e.msg }

func refuse(format string, a ...any) error { return &toolError{msg: fmt.Sprintf(format, a...)} }

// call runs one tool use and returns its result.
func (s *session) call(ctx context.Context, c toolCall) (toolResult, error) {
	out, err := s.run(ctx, c.name, c.input)
	var te *toolError
	if errors.As(err, &te) {
		return toolResult{id: c.id, content: te.msg, isError: true}, nil
	}
	if err != nil {
		return toolResult{}, err
	}
	return toolResult{id: c.id, content: out}, nil
}

func (s *session) run(ctx context.Context, name string, input json.RawMessage) (string, error) {
	var args struct {
		Path    *string `json:"path"`
		Content *string `json:"content"`
		Summary *string `json:"summary"`
		Command *string `json:"command"`
	}
	if len(input) > 0 {
		if err := json.Unmarshal(input, &args); err != nil {
			return "", refuse("the arguments of %s are not a JSON object of strings: %v", name, err)
		}
	}
	need := func(arg string, v *string) (string, error) {
		if v == nil {
			return "", refuse("%s needs the argument %q", name, arg)
		}
		return *v, nil
	}
	switch name {
	case "list_inputs":
		if len(s.inputs) == 0 {
			return "(no inputs)", nil
		}
		paths := make([]string, len(s.inputs))
		for i, e := range s.inputs {
			paths[i] = e.Path
		}
		return strings.Join(paths, "\n"), nil
	case "read_input":
		p, err := need("path", args.Path)
		if err != nil {
			return "", err
		}
		if !slices.ContainsFunc(s.inputs, func(e artifacts.Entry) bool { return e.Path == p }) {
			return "", refuse("%q is not an input; list_inputs gives the paths", p)
		}
		data, err := s.req.Artifacts.Read(ctx, s.req.Job, p)
		if err != nil {
			return "", fmt.Errorf("read input %s: %w", p, err)
		}
		if len(data) > maxInputRead {
			return string(data[:maxInputRead]) + fmt.Sprintf("\n[truncated: %d of %d bytes shown]", maxInputRead, len(data)), nil
		}
		return string(data), nil
	case "write_file":
		p, err := need("path", args.Path)
		if err != nil {
			return "", err
		}
		content, err := need("content", args.Content)
		if err != nil {
			return "", err
		}
		if err := artifacts.ValidatePath(p); err != nil {
			return "", refuse("cannot write %q: %v", p, err)
		}
		f := artifacts.File{Path: p, Data: []byte(content), Mode: 0o644}
		if i := slices.IndexFunc(s.written, func(w artifacts.File) bool { return w.Path == p }); i >= 0 {
			s.written[i] = f
		} else {
			s.written = append(s.written, f)
		}
		if s.ws != nil {
			s.ws.pending[p] = true
		}
		return fmt.Sprintf("wrote %s (%d bytes)", p, len(content)), nil
	case "finish":
		summary, err := need("summary", args.Summary)
		if err != nil {
			return "", err
		}
		s.summary, s.done = summary, true
		s.close()
		return "finished", nil
	case "run":
		command, err := need("command", args.Command)
		if err != nil {
			return "", err
		}
		return s.runCommand(ctx, command)
	default:
		names := make([]string, len(toolSpecs))
		for i, t := range toolSpecs {
			names[i] = t.name
		}
		return "", refuse("there is no tool %q; the tools are %s", name, strings.Join(names, ", "))
	}
}
