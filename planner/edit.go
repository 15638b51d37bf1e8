package planner

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// Change is one entry of a plan's history.
type Change struct {
	Time    time.Time `json:"time" yaml:"time"`
	Action  string    `json:"action" yaml:"action"` // created, added, modified, removed, approved, imported
	Subtask string    `json:"subtask,omitempty" yaml:"subtask,omitempty"`
	Detail  string    `json:"detail,omitempty" yaml:"detail,omitempty"`
}

// The actions of a plan's history.
const (
	ActionCreated  = "created"
	ActionAdded    = "added"
	ActionModified = "modified"
	ActionRemoved  = "removed"
	ActionApproved = "approved"
	ActionImported = "imported"
)

// now is the clock of history entries; tests replace it.
var now = func() time.Time { return time.Now().UTC().Truncate(time.Second) }

// Record appends an entry to the plan's history.
func (p *Plan) Record(action, subtask, detail string) {
	p.History = append(p.History, Change{Time: now(), Action: action, Subtask: subtask, Detail: detail})
}

// Clone returns a deep copy of the plan.
func (p *Plan) Clone() *Plan {
	c := *p
	c.Answers = maps.Clone(p.Answers)
	c.History = slices.Clone(p.History)
	c.Phases = make([]Phase, len(p.Phases))
	for i, ph := range p.Phases {
		c.Phases[i] = ph
		c.Phases[i].Subtasks = make([]Subtask, len(ph.Subtasks))
		for j, st := range ph.Subtasks {
			st.Params = maps.Clone(st.Params)
			st.DependsOn = slices.Clone(st.DependsOn)
			c.Phases[i].Subtasks[j] = st
		}
	}
	return &c
}

// find returns the phase and index of a subtask.
func (p *Plan) find(id string) (phase, index int, ok bool) {
	for i, ph := range p.Phases {
		for j, st := range ph.Subtasks {
			if st.ID == id {
				return i, j, true
			}
		}
	}
	return 0, 0, false
}

// Subtask returns the subtask with the id.
func (p *Plan) Subtask(id string) (Subtask, bool) {
	i, j, ok := p.find(id)
	if !ok {
		return Subtask{}, false
	}
	return p.Phases[i].Subtasks[j], true
}

// apply runs change on a copy of the plan and keeps the copy only if it
// validates, so that a refused change leaves the plan as it was.
func (p *Plan) apply(skills Skills, change func(c *Plan) error) error {
	c := p.Clone()
	if err := change(c); err != nil {
		return err
	}
	if err := c.Validate(skills); err != nil {
		return err
	}
	*p = *c
	return nil
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// Slug turns a title into an id: lower case words joined by dashes, at
// most 48 characters.
func Slug(title string) string {
	s := strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(title), "-"), "-")
	if len(s) > 48 {
		s = strings.TrimRight(s[:48], "-")
	}
	if s == "" {
		s = "job"
	}
	return s
}

// collectorOf returns the subtask of the collector role, which depends on
// every other subtask so that it assembles their files.
func (p *Plan) collectorOf() (phase, index int, ok bool) {
	for i, ph := range p.Phases {
		for j, st := range ph.Subtasks {
			if st.Role == specialists.RoleCollector {
				return i, j, true
			}
		}
	}
	return 0, 0, false
}

// Add puts st into the named phase (a new phase at the end when no phase
// has that name). An empty ID is made from the title; an empty skill is
// the one Route picks for the title within the role; an empty priority is
// normal. The plan's collector, if any, comes to depend on the new
// subtask. A change that does not validate is refused and the plan stays
// as it was.
func (p *Plan) Add(phase string, st Subtask, skills Skills) (Subtask, error) {
	if strings.TrimSpace(st.Title) == "" {
		return st, fmt.Errorf("%w: a new subtask needs a title", ErrInvalidPlan)
	}
	if st.ID == "" {
		st.ID = Slug(st.Title)
		for n := 2; ; n++ {
			if _, _, taken := p.find(st.ID); !taken {
				break
			}
			st.ID = fmt.Sprintf("%s-%d", Slug(st.Title), n)
		}
	}
	if st.Skill == "" && skills.HasRole(st.Role) {
		r, err := Route(st.Title, st.Role, skills)
		if err != nil {
			return st, err
		}
		st.Skill = r.Skill
	}
	if st.Priority == "" {
		st.Priority = broker.Normal
	}
	err := p.apply(skills, func(c *Plan) error {
		i := slices.IndexFunc(c.Phases, func(ph Phase) bool { return ph.Name == phase })
		if i < 0 {
			c.Phases = append(c.Phases, Phase{Name: phase})
			i = len(c.Phases) - 1
		}
		if ci, cj, ok := c.collectorOf(); ok && st.Role != specialists.RoleCollector {
			col := &c.Phases[ci].Subtasks[cj]
			col.DependsOn = append(col.DependsOn, st.ID)
			// The collector stays last in its phase.
			if ci == i {
				c.Phases[i].Subtasks = slices.Insert(c.Phases[i].Subtasks, cj, st)
				return nil
			}
		}
		c.Phases[i].Subtasks = append(c.Phases[i].Subtasks, st)
		return nil
	})
	if err != nil {
		return st, err
	}
	p.Record(ActionAdded, st.ID, describe(st))
	return st, nil
}

// SubtaskEdit changes some fields of a subtask; nil fields stay as they are.
type SubtaskEdit struct {
	Title     *string
	Role      *string
	Skill     *string
	DependsOn *[]string
	Priority  *broker.Priority
}

// Modify edits the subtask with the id. Changing the role without a skill
// picks the role's skill for the title (Route). A change that does not
// validate is refused and the plan stays as it was.
func (p *Plan) Modify(id string, e SubtaskEdit, skills Skills) error {
	var changes []string
	err := p.apply(skills, func(c *Plan) error {
		i, j, ok := c.find(id)
		if !ok {
			return fmt.Errorf("%w: no subtask %q", ErrInvalidPlan, id)
		}
		st := &c.Phases[i].Subtasks[j]
		if e.Title != nil && *e.Title != st.Title {
			if strings.TrimSpace(*e.Title) == "" {
				return fmt.Errorf("%w: subtask %s: the title cannot be empty", ErrInvalidPlan, id)
			}
			changes = append(changes, fmt.Sprintf("title %q -> %q", st.Title, *e.Title))
			st.Title = *e.Title
		}
		if e.Role != nil && *e.Role != st.Role {
			changes = append(changes, fmt.Sprintf("role %s -> %s", st.Role, *e.Role))
			st.Role = *e.Role
			if e.Skill == nil && skills.HasRole(st.Role) {
				r, err := Route(st.Title, st.Role, skills)
				if err != nil {
					return err
				}
				e.Skill = &r.Skill
			}
		}
		if e.Skill != nil && *e.Skill != st.Skill {
			changes = append(changes, fmt.Sprintf("skill %s -> %s", st.Skill, *e.Skill))
			st.Skill = *e.Skill
		}
		if e.DependsOn != nil && !slices.Equal(*e.DependsOn, st.DependsOn) {
			changes = append(changes, fmt.Sprintf("depends on [%s] -> [%s]", strings.Join(st.DependsOn, " "), strings.Join(*e.DependsOn, " ")))
			st.DependsOn = slices.Clone(*e.DependsOn)
		}
		if e.Priority != nil && *e.Priority != st.Priority {
			changes = append(changes, fmt.Sprintf("priority %s -> %s", st.Priority, *e.Priority))
			st.Priority = *e.Priority
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(changes) > 0 {
		p.Record(ActionModified, id, strings.Join(changes, "; "))
	}
	return nil
}

// Remove deletes the subtask with the id. It is refused while another
// subtask (other than the collector, which lets go of it) depends on it.
func (p *Plan) Remove(id string, skills Skills) error {
	err := p.apply(skills, func(c *Plan) error {
		i, j, ok := c.find(id)
		if !ok {
			return fmt.Errorf("%w: no subtask %q", ErrInvalidPlan, id)
		}
		if c.Phases[i].Subtasks[j].Role == specialists.RoleCollector {
			return fmt.Errorf("%w: subtask %s assembles and tests the project; it cannot be removed", ErrInvalidPlan, id)
		}
		var users []string
		for pi := range c.Phases {
			for sj := range c.Phases[pi].Subtasks {
				st := &c.Phases[pi].Subtasks[sj]
				if !slices.Contains(st.DependsOn, id) {
					continue
				}
				if st.Role == specialists.RoleCollector {
					st.DependsOn = slices.DeleteFunc(st.DependsOn, func(d string) bool { return d == id })
					continue
				}
				users = append(users, st.ID)
			}
		}
		if len(users) > 0 {
			return fmt.Errorf("%w: subtask %s is needed by %s; change their dependencies first", ErrInvalidPlan, id, strings.Join(users, ", "))
		}
		c.Phases[i].Subtasks = slices.Delete(c.Phases[i].Subtasks, j, j+1)
		if len(c.Phases[i].Subtasks) == 0 {
			c.Phases = slices.Delete(c.Phases, i, i+1)
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.Record(ActionRemoved, id, "")
	return nil
}

func describe(st Subtask) string {
	s := fmt.Sprintf("%q, role %s, skill %s, priority %s", st.Title, st.Role, st.Skill, st.Priority)
	if len(st.DependsOn) > 0 {
		s += ", depends on " + strings.Join(st.DependsOn, " ")
	}
	return s
}

// UnmarshalYAML reads a history entry whose time may be written in any of
// YAML's timestamp forms: other tools that rewrite a plan file write
// "2006-01-02 15:04:05+00:00" where this one writes RFC 3339.
func (c *Change) UnmarshalYAML(n *yaml.Node) error {
	var raw struct {
		Time    string `yaml:"time"`
		Action  string `yaml:"action"`
		Subtask string `yaml:"subtask"`
		Detail  string `yaml:"detail"`
	}
	if err := n.Decode(&raw); err != nil {
		return err
	}
	*c = Change{Action: raw.Action, Subtask: raw.Subtask, Detail: raw.Detail}
	if raw.Time == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999 -07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, raw.Time); err == nil {
			c.Time = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("line %d: history time %q is not a timestamp", n.Line, raw.Time)
}
