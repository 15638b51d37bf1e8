package planner

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/orchestrate-dev/orchestrate/broker"
)

// SchemaPath is where the plan file's JSON Schema lives in the repository.
const SchemaPath = "docs/plan.schema.json"

// FileError is a problem of a plan file, at a line, in a field.
type FileError struct {
	Line  int
	Field string // such as phases[1].subtasks[0].role
	Msg   string
}

func (e *FileError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Msg)
}

func (e *FileError) Unwrap() error { return ErrInvalidPlan }

// FileErrors are every problem found in a plan file.
type FileErrors []*FileError

func (es FileErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return "invalid plan file: " + strings.Join(msgs, "; ")
}

func (es FileErrors) Unwrap() error { return ErrInvalidPlan }

// WriteYAML writes a plan file.
func WriteYAML(p *Plan) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# An orchestrate plan. Schema: %s. Execute it with\n# orchestrate submit --plan FILE, or import it with orchestrate plan --import FILE.\n", SchemaPath)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encode plan %s: %w", p.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ReadYAML reads a plan file. Its errors are FileErrors naming the line
// and field of each problem: unknown or missing fields, wrong types,
// duplicate ids, dependencies on ids the file does not define, cycles. Roles
// and skills are checked against the workers' registry by Validate.
func ReadYAML(data []byte) (*Plan, error) {
	if len(data) > MaxFileSize {
		return nil, FileErrors{{Line: 1, Msg: fmt.Sprintf("the file is %d bytes, more than the %d a plan may have", len(data), MaxFileSize)}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, FileErrors{{Line: yamlErrorLine(err), Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil, FileErrors{{Line: 1, Msg: "the file is empty"}}
	}
	c := &fileChecker{}
	c.plan(root.Content[0])
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	var p Plan
	if err := root.Content[0].Decode(&p); err != nil {
		return nil, FileErrors{{Line: yamlErrorLine(err), Msg: err.Error()}}
	}
	c.references(&p)
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	return &p, nil
}

type fileChecker struct {
	errs  FileErrors
	lines map[string]int // subtask id → line
	// deps locates each dependency, keyed by subtask id and dependency.
	deps map[[2]string]location
}

type location struct {
	line  int
	field string
}

func (c *fileChecker) add(n *yaml.Node, field, format string, a ...any) {
	c.errs = append(c.errs, &FileError{Line: n.Line, Field: field, Msg: fmt.Sprintf(format, a...)})
}

// fields checks that n is a mapping of known keys, with the required ones
// present, and returns each key's value node.
func (c *fileChecker) fields(n *yaml.Node, path string, known, required []string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		c.add(n, path, "want a mapping of %s", strings.Join(known, ", "))
		return nil
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !slices.Contains(known, k.Value):
			c.add(k, join(path, k.Value), "unknown field (known: %s)", strings.Join(known, ", "))
		case out[k.Value] != nil:
			c.add(k, join(path, k.Value), "given twice")
		default:
			out[k.Value] = v
		}
	}
	for _, r := range required {
		if v := out[r]; v == nil || (v.Kind == yaml.ScalarNode && strings.TrimSpace(v.Value) == "") {
			c.add(n, join(path, r), "required")
		}
	}
	return out
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func (c *fileChecker) scalar(n *yaml.Node, path string) bool {
	if n.Kind != yaml.ScalarNode {
		c.add(n, path, "want a single value")
		return false
	}
	return true
}

func (c *fileChecker) stringMap(n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		c.add(n, path, "want a mapping of names to values")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		c.scalar(n.Content[i+1], join(path, n.Content[i].Value))
	}
}

func (c *fileChecker) plan(n *yaml.Node) {
	c.lines, c.deps = map[string]int{}, map[[2]string]location{}
	f := c.fields(n, "", []string{"name", "goal", "answers", "budget_usd", "phases", "history"}, []string{"name", "phases"})
	if f == nil {
		return
	}
	for _, k := range []string{"name", "goal"} {
		if v := f[k]; v != nil && c.scalar(v, k) && k == "name" && !broker.ValidID(v.Value) {
			c.add(v, k, "%q: want 1-128 letters, digits, '-' or '_'", v.Value)
		}
	}
	if v := f["answers"]; v != nil {
		c.stringMap(v, "answers")
	}
	if v := f["budget_usd"]; v != nil && c.scalar(v, "budget_usd") {
		if b, err := strconv.ParseFloat(v.Value, 64); err != nil || b < 0 || math.IsInf(b, 0) {
			c.add(v, "budget_usd", "%q: want a number of US dollars, zero or more", v.Value)
		}
	}
	phases := f["phases"]
	if phases == nil {
		return
	}
	if phases.Kind != yaml.SequenceNode || len(phases.Content) == 0 {
		c.add(phases, "phases", "want a list of phases, at least one")
		return
	}
	for i, ph := range phases.Content {
		path := fmt.Sprintf("phases[%d]", i)
		pf := c.fields(ph, path, []string{"name", "days", "subtasks"}, []string{"name", "subtasks"})
		if pf == nil {
			continue
		}
		subs := pf["subtasks"]
		if subs == nil {
			continue
		}
		if subs.Kind != yaml.SequenceNode {
			c.add(subs, path+".subtasks", "want a list of subtasks")
			continue
		}
		for j, st := range subs.Content {
			c.subtask(st, fmt.Sprintf("%s.subtasks[%d]", path, j))
		}
	}
}

func (c *fileChecker) subtask(n *yaml.Node, path string) {
	f := c.fields(n, path, []string{"id", "title", "role", "skill", "instructions", "params", "depends_on", "priority", "timeout"},
		[]string{"id", "role", "skill"})
	if f == nil {
		return
	}
	for _, k := range []string{"id", "title", "role", "skill", "instructions", "priority", "timeout"} {
		if v := f[k]; v != nil {
			c.scalar(v, join(path, k))
		}
	}
	if v := f["id"]; v != nil && v.Kind == yaml.ScalarNode {
		switch {
		case !broker.ValidID(v.Value):
			c.add(v, path+".id", "%q: want 1-128 letters, digits, '-' or '_', starting with a letter or digit", v.Value)
		case c.lines[v.Value] != 0:
			c.add(v, path+".id", "duplicate id %q (first on line %d)", v.Value, c.lines[v.Value])
		default:
			c.lines[v.Value] = v.Line
		}
	}
	if v := f["priority"]; v != nil && v.Kind == yaml.ScalarNode {
		if _, err := broker.ParsePriority(v.Value); err != nil {
			c.add(v, path+".priority", "%v", err)
		}
	}
	if v := f["timeout"]; v != nil && v.Kind == yaml.ScalarNode {
		if d, err := time.ParseDuration(v.Value); err != nil || d < 0 {
			c.add(v, path+".timeout", "%q: want a duration such as 15m", v.Value)
		}
	}
	if v := f["params"]; v != nil {
		c.stringMap(v, path+".params")
	}
	if v := f["depends_on"]; v != nil {
		if v.Kind != yaml.SequenceNode {
			c.add(v, path+".depends_on", "want a list of subtask ids")
			return
		}
		id := ""
		if idn := f["id"]; idn != nil {
			id = idn.Value
		}
		for k, d := range v.Content {
			field := fmt.Sprintf("%s.depends_on[%d]", path, k)
			if c.scalar(d, field) {
				c.deps[[2]string{id, d.Value}] = location{d.Line, field}
			}
		}
	}
}

// references checks dependencies against the ids the file defines, and
// looks for a cycle.
func (c *fileChecker) references(p *Plan) {
	for _, st := range p.Subtasks() {
		for _, d := range st.DependsOn {
			at := c.deps[[2]string{st.ID, d}]
			if c.lines[d] == 0 {
				c.errs = append(c.errs, &FileError{Line: at.line, Field: at.field, Msg: fmt.Sprintf("unknown subtask %q", d)})
			} else if d == st.ID {
				c.errs = append(c.errs, &FileError{Line: at.line, Field: at.field, Msg: "a subtask cannot depend on itself"})
			}
		}
	}
	if len(c.errs) > 0 {
		return
	}
	if cyc := p.findCycle(); cyc != nil {
		c.errs = append(c.errs, &FileError{Line: c.lines[cyc[0]], Field: "depends_on", Msg: "dependency cycle: " + strings.Join(cyc, " -> ")})
	}
}

// yamlErrorLine finds the line a yaml.v3 error names ("yaml: line 3: ...").
func yamlErrorLine(err error) int {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	var line int
	if i := strings.Index(msg, "line "); i >= 0 {
		fmt.Sscanf(msg[i:], "line %d", &line)
	}
	return max(line, 1)
}

// MaxFileSize bounds a plan file: the largest plan of the catalog is a
// few kilobytes, and a reader must not be made to hold gigabytes.
const MaxFileSize = 1 << 20
