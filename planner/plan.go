package planner

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/orchestrate-dev/orchestrate/broker"
)

// Plan is a goal decomposed into phases of subtasks. Dependencies are by
// subtask id and may cross phases.
type Plan struct {
	Name    string            `json:"name" yaml:"name"`
	Goal    string            `json:"goal" yaml:"goal"`
	Answers map[string]string `json:"answers,omitempty" yaml:"answers,omitempty"`
	Phases  []Phase           `json:"phases" yaml:"phases"`
	// BudgetUSD bounds what the job's model calls may cost, in US
	// dollars; zero means no bound. A task that finds it spent fails
	// permanently.
	BudgetUSD float64 `json:"budget_usd,omitempty" yaml:"budget_usd,omitempty"`
	// History lists how the plan came to be, oldest first: its creation,
	// then every change made to it.
	History []Change `json:"history,omitempty" yaml:"history,omitempty"`
}

// Phase groups subtasks for people reading the plan; only dependencies
// order execution.
type Phase struct {
	Name     string    `json:"name" yaml:"name"`
	Days     string    `json:"days,omitempty" yaml:"days,omitempty"`
	Subtasks []Subtask `json:"subtasks" yaml:"subtasks"`
}

// Subtask is one unit of work owned by a role.
type Subtask struct {
	ID           string            `json:"id" yaml:"id"`
	Title        string            `json:"title" yaml:"title"`
	Role         string            `json:"role" yaml:"role"`
	Skill        string            `json:"skill" yaml:"skill"`
	Instructions string            `json:"instructions,omitempty" yaml:"instructions,omitempty"`
	Params       map[string]string `json:"params,omitempty" yaml:"params,omitempty"`
	DependsOn    []string          `json:"depends_on,omitempty" yaml:"depends_on,omitempty"`
	Priority     broker.Priority   `json:"priority,omitempty" yaml:"priority,omitempty"`
	Timeout      time.Duration     `json:"timeout,omitempty" yaml:"timeout,omitempty"`
}

// Subtasks returns every subtask in plan order.
func (p *Plan) Subtasks() []Subtask {
	var out []Subtask
	for _, ph := range p.Phases {
		out = append(out, ph.Subtasks...)
	}
	return out
}

// Skills is what validation needs to know about the specialists.
type Skills interface {
	HasRole(role string) bool
	HasSkill(role, skill string) bool
	Skills(role string) []string
	Roles() []string
}

// ErrInvalidPlan is wrapped by every validation error.
var ErrInvalidPlan = errors.New("invalid plan")

// ValidationError lists every problem found, each naming its subtask.
type ValidationError struct{ Problems []string }

func (e *ValidationError) Error() string {
	return "invalid plan: " + strings.Join(e.Problems, "; ")
}

func (e *ValidationError) Unwrap() error { return ErrInvalidPlan }

// Validate checks ids, roles, skills, priorities and dependencies and that
// the dependencies form no cycle. Its error is a *ValidationError.
func (p *Plan) Validate(skills Skills) error {
	var probs []string
	add := func(format string, a ...any) { probs = append(probs, fmt.Sprintf(format, a...)) }
	all := p.Subtasks()
	if len(all) == 0 {
		add("the plan has no subtasks")
	}
	seen := map[string]bool{}
	for _, st := range all {
		switch {
		case !broker.ValidID(st.ID):
			add("subtask %q: id must be 1-128 letters, digits, '-' or '_', starting with a letter or digit", st.ID)
		case seen[st.ID]:
			add("subtask %s: duplicate id", st.ID)
		}
		seen[st.ID] = true
		switch {
		case !skills.HasRole(st.Role):
			add("subtask %s: unknown role %q (known: %s)", st.ID, st.Role, strings.Join(skills.Roles(), ", "))
		case !skills.HasSkill(st.Role, st.Skill):
			add("subtask %s: role %s has no skill %q (known: %s)", st.ID, st.Role, st.Skill, strings.Join(skills.Skills(st.Role), ", "))
		}
		if _, err := broker.ParsePriority(string(st.Priority)); err != nil {
			add("subtask %s: %v", st.ID, err)
		}
		if st.Timeout < 0 {
			add("subtask %s: negative timeout", st.ID)
		}
	}
	for _, st := range all {
		for _, d := range st.DependsOn {
			if !seen[d] {
				add("subtask %s: depends on unknown subtask %q", st.ID, d)
			} else if d == st.ID {
				add("subtask %s: depends on itself", st.ID)
			}
		}
	}
	if len(probs) == 0 {
		if cyc := p.findCycle(); cyc != nil {
			add("dependency cycle: %s", strings.Join(cyc, " -> "))
		}
	}
	if len(probs) > 0 {
		return &ValidationError{Problems: probs}
	}
	return nil
}

// findCycle returns one cycle as a path of ids that starts and ends with the
// same id, or nil.
func (p *Plan) findCycle() []string {
	deps := map[string][]string{}
	var ids []string
	for _, st := range p.Subtasks() {
		deps[st.ID] = st.DependsOn
		ids = append(ids, st.ID)
	}
	sort.Strings(ids)
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(id string) []string
	visit = func(id string) []string {
		color[id] = grey
		stack = append(stack, id)
		for _, d := range deps[id] {
			switch color[d] {
			case grey:
				for i, s := range stack {
					if s == d {
						return append(append([]string{}, stack[i:]...), d)
					}
				}
			case white:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[id] = black
		return nil
	}
	for _, id := range ids {
		if color[id] == white {
			if c := visit(id); c != nil {
				return c
			}
		}
	}
	return nil
}
