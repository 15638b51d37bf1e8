package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/planner"
)

// The session's text is plain on purpose: no colors or cursor movement,
// so that it reads the same under NO_COLOR, in a log and in a test.

// promptStream is a stream that says whether it is a terminal; tests wrap
// a pipe in one to hold a session without a pseudo-terminal.
type promptStream interface{ IsTerminal() bool }

// canPrompt decides whether a stream is a terminal that a session can be
// held on. A dumb terminal can: the session writes plain lines.
func canPrompt(stream any) bool {
	switch s := stream.(type) {
	case promptStream:
		return s.IsTerminal()
	case *os.File:
		return term.IsTerminal(int(s.Fd()))
	}
	return false
}

// errInputEnded: the input closed in the middle of the session.
var errInputEnded = errors.New("the input ended before the plan was approved: nothing was saved")

// sessionEnd is how a session ends.
type sessionEnd int

const (
	endQuit    sessionEnd = iota
	endProceed            // approve, save, and submit with --execute
	endSave               // approve and save without executing
)

// planSession asks the planning questions, then shows the plan and edits
// it until the user proceeds, saves or quits.
type planSession struct {
	in      *lineReader
	out     io.Writer
	skills  planner.Skills
	execute bool
}

func newPlanSession(in io.Reader, out io.Writer, skills planner.Skills, execute bool) *planSession {
	return &planSession{in: newLineReader(in), out: out, skills: skills, execute: execute}
}

func (s *planSession) close() { s.in.close() }

// lineReader reads what is typed, a line at a time. A goroutine does the
// blocking reads, so that an interrupt ends a prompt at once.
type lineReader struct {
	lines chan string
	err   error // why lines was closed; written before the close
	done  chan struct{}
}

func newLineReader(r io.Reader) *lineReader {
	lr := &lineReader{lines: make(chan string), done: make(chan struct{})}
	go func() {
		defer close(lr.lines)
		br := bufio.NewReader(r)
		for {
			s, err := br.ReadString('\n')
			if s != "" || err == nil {
				select {
				case lr.lines <- strings.TrimRight(s, "\r\n"):
				case <-lr.done:
					return
				}
			}
			if err != nil {
				lr.err = err
				return
			}
		}
	}()
	return lr
}

func (lr *lineReader) read(ctx context.Context) (string, error) {
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case s, ok := <-lr.lines:
		if ok {
			return s, nil
		}
		if lr.err == nil || errors.Is(lr.err, io.EOF) {
			return "", errInputEnded
		}
		return "", fmt.Errorf("read the answer: %w", lr.err)
	}
}

// close lets the reading goroutine go once its current read returns.
func (lr *lineReader) close() { close(lr.done) }

// ask shows the question with its default in brackets and reads the
// answer; an empty answer takes the default. check refuses an answer with
// the reason, and the question is asked again; it may also normalize it.
func (s *planSession) ask(ctx context.Context, question, def string, check func(string) (string, error)) (string, error) {
	for {
		if def != "" {
			fmt.Fprintf(s.out, "%s [%s]: ", question, def)
		} else {
			fmt.Fprintf(s.out, "%s: ", question)
		}
		line, err := s.in.read(ctx)
		if err != nil {
			fmt.Fprintln(s.out)
			return "", err
		}
		v := strings.TrimSpace(line)
		if v == "" {
			v = def
		}
		if check == nil {
			return v, nil
		}
		checked, err := check(v)
		if err == nil {
			return checked, nil
		}
		fmt.Fprintf(s.out, "  %v\n", err)
	}
}

// plan asks the questions given has no answer to, and plans the goal.
//
// With an llm planner (llm set), a goal no builtin scenario knows is asked
// no questions: the model plans from the goal alone.
func (s *planSession) plan(ctx context.Context, goal string, given map[string]string, decompose decomposeFunc, llm bool) (*planner.Plan, error) {
	fmt.Fprintf(s.out, "Planning: %s\n", goal)
	answers := maps.Clone(given)
	if answers == nil {
		answers = map[string]string{}
	}
	questions, err := planner.Questions(goal)
	if err != nil && (!llm || !errors.Is(err, planner.ErrNoScenario)) {
		return nil, err
	}
	for _, q := range questions {
		if _, ok := answers[q.Key]; ok {
			continue
		}
		v, err := s.ask(ctx, q.Text, q.Default, func(v string) (string, error) {
			if _, err := planner.Decompose(goal, map[string]string{q.Key: v}); err != nil {
				return "", answerReason(err)
			}
			return v, nil
		})
		if err != nil {
			return nil, err
		}
		answers[q.Key] = v
	}
	return decompose(ctx, goal, answers)
}

// answerReason is the reason Decompose refused an answer, without the
// scenario it names first.
func answerReason(err error) error {
	if inner := errors.Unwrap(err); inner != nil {
		return inner
	}
	return err
}

// edit shows the plan and its menu until the user proceeds, saves or
// quits; it returns the name to save the plan under.
func (s *planSession) edit(ctx context.Context, plan *planner.Plan, name string) (sessionEnd, string, error) {
	printPlan(s.out, plan)
	if s.execute {
		fmt.Fprintln(s.out, "p approves, saves and submits the plan; s approves and saves it without executing; q quits without saving")
	} else {
		fmt.Fprintln(s.out, "p or s approves and saves the plan; q quits without saving")
	}
	start := len(plan.History)
	for {
		choice, err := s.ask(ctx, "[a]dd [m]odify [r]emove [p]roceed [s]ave [q]uit", "", nil)
		if err != nil {
			return endQuit, "", err
		}
		before := len(plan.History)
		switch strings.ToLower(choice) {
		case "":
		case "a", "add":
			err = s.add(ctx, plan)
		case "m", "modify":
			err = s.modify(ctx, plan)
		case "r", "remove":
			err = s.remove(ctx, plan)
		case "p", "proceed", "s", "save":
			name, err := s.ask(ctx, "Save as", name, checkPlanName)
			if err != nil {
				return endQuit, "", err
			}
			if strings.HasPrefix(strings.ToLower(choice), "p") {
				return endProceed, name, nil
			}
			return endSave, name, nil
		case "q", "quit":
			if n := len(plan.History) - start; n > 0 {
				yes, err := s.ask(ctx, fmt.Sprintf("Discard %s? (y or n)", plural(n, "change")), "n", checkYesNo)
				if err != nil {
					return endQuit, "", err
				}
				if yes == "n" {
					continue
				}
			}
			return endQuit, "", nil
		default:
			fmt.Fprintf(s.out, "  unknown choice %q: type a, m, r, p, s or q\n", choice)
		}
		if err != nil {
			return endQuit, "", err
		}
		if len(plan.History) > before {
			printPlan(s.out, plan)
		}
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func checkPlanName(v string) (string, error) {
	if !broker.ValidID(v) {
		return "", fmt.Errorf("%q: a name is 1-128 letters, digits, '-' or '_', starting with a letter or digit", v)
	}
	return v, nil
}

func checkYesNo(v string) (string, error) {
	switch strings.ToLower(v) {
	case "y", "yes":
		return "y", nil
	case "n", "no":
		return "n", nil
	}
	return "", fmt.Errorf("%q: answer y or n", v)
}

const dependsQuestion = "Depends on (ids separated by spaces, - for none)"

// add asks for a new subtask field by field and adds it.
func (s *planSession) add(ctx context.Context, plan *planner.Plan) error {
	title, err := s.ask(ctx, "Title of the new subtask (empty cancels)", "", nil)
	if err != nil || title == "" {
		return err
	}
	def := ""
	if r, err := planner.Route(title, "", s.skills); err == nil {
		def = r.Role
	}
	role, err := s.ask(ctx, "Role", def, s.checkRole)
	if err != nil {
		return err
	}
	skill, err := s.askSkill(ctx, title, role, "")
	if err != nil {
		return err
	}
	deps, err := s.ask(ctx, dependsQuestion, "-", s.checkDepends(plan, ""))
	if err != nil {
		return err
	}
	prio, err := s.ask(ctx, "Priority (high, normal or low)", string(broker.Normal), checkPriority)
	if err != nil {
		return err
	}
	last := strconv.Itoa(len(plan.Phases))
	phase, err := s.ask(ctx, fmt.Sprintf("Phase (1-%s, or a new phase's name)", last), last, func(v string) (string, error) {
		if n, err := strconv.Atoi(v); err == nil {
			if n < 1 || n > len(plan.Phases) {
				return "", fmt.Errorf("no phase %d: give 1-%d, or a new phase's name", n, len(plan.Phases))
			}
			return plan.Phases[n-1].Name, nil
		}
		return v, nil
	})
	if err != nil {
		return err
	}
	st, err := plan.Add(phase, planner.Subtask{Title: title, Role: role, Skill: skill, Instructions: title,
		Params: sharedParams(plan), DependsOn: splitIDs(deps), Priority: broker.Priority(prio)}, s.skills)
	if err != nil {
		s.refused(err)
		return nil
	}
	fmt.Fprintf(s.out, "added %s\n", st.ID)
	return nil
}

// sharedParams are the params that every subtask with params has, with
// the same value: the plan's answers as its skills read them, which a new
// subtask must see too.
func sharedParams(plan *planner.Plan) map[string]string {
	var shared map[string]string
	for _, st := range plan.Subtasks() {
		switch {
		case st.Params == nil:
		case shared == nil:
			shared = maps.Clone(st.Params)
		default:
			maps.DeleteFunc(shared, func(k, v string) bool { return st.Params[k] != v })
		}
	}
	return shared
}

// modify asks for each field of a subtask with its current value as the
// default, trying the edit so far at every step so that a field that
// would break the plan is refused at once, and then changes it.
func (s *planSession) modify(ctx context.Context, plan *planner.Plan) error {
	id, err := s.ask(ctx, "Subtask to modify (empty cancels)", "", s.checkSubtask(plan))
	if err != nil || id == "" {
		return err
	}
	cur, _ := plan.Subtask(id)
	var e planner.SubtaskEdit
	try := func(v string, set func(v string)) (string, error) {
		trial := e
		set(v)
		if err := plan.Clone().Modify(id, e, s.skills); err != nil {
			e = trial
			return "", err
		}
		return v, nil
	}
	title, err := s.ask(ctx, "Title", cur.Title, func(v string) (string, error) {
		return try(v, func(v string) { e.Title = &v })
	})
	if err != nil {
		return err
	}
	role, err := s.ask(ctx, "Role", cur.Role, s.checkRole)
	if err != nil {
		return err
	}
	def := cur.Skill
	if role != cur.Role {
		def = ""
	}
	skill, err := s.askSkill(ctx, title, role, def)
	if err != nil {
		return err
	}
	if _, err := try(role, func(v string) { e.Role, e.Skill = &v, &skill }); err != nil {
		s.refused(err)
		return nil
	}
	deps := "-"
	if len(cur.DependsOn) > 0 {
		deps = strings.Join(cur.DependsOn, " ")
	}
	if _, err = s.ask(ctx, dependsQuestion, deps, func(v string) (string, error) {
		if _, err := s.checkDepends(plan, id)(v); err != nil {
			return "", err
		}
		ids := splitIDs(v)
		return try(v, func(string) { e.DependsOn = &ids })
	}); err != nil {
		return err
	}
	if _, err = s.ask(ctx, "Priority (high, normal or low)", string(cur.Priority), func(v string) (string, error) {
		v, err := checkPriority(v)
		if err != nil {
			return "", err
		}
		return try(v, func(v string) { p := broker.Priority(v); e.Priority = &p })
	}); err != nil {
		return err
	}
	before := len(plan.History)
	if err := plan.Modify(id, e, s.skills); err != nil {
		s.refused(err)
		return nil
	}
	if len(plan.History) == before {
		fmt.Fprintf(s.out, "no changes to %s\n", id)
		return nil
	}
	fmt.Fprintf(s.out, "modified %s: %s\n", id, plan.History[len(plan.History)-1].Detail)
	return nil
}

func (s *planSession) remove(ctx context.Context, plan *planner.Plan) error {
	id, err := s.ask(ctx, "Subtask to remove (empty cancels)", "", s.checkSubtask(plan))
	if err != nil || id == "" {
		return err
	}
	if err := plan.Remove(id, s.skills); err != nil {
		s.refused(err)
		return nil
	}
	fmt.Fprintf(s.out, "removed %s\n", id)
	return nil
}

func (s *planSession) refused(err error) {
	fmt.Fprintf(s.out, "refused: %v\nthe plan is unchanged\n", err)
}

// askSkill asks for a skill of the role; the default is def, else the
// skill the title's words choose, else the role's only skill.
func (s *planSession) askSkill(ctx context.Context, title, role, def string) (string, error) {
	known := s.skills.Skills(role)
	if def == "" {
		if r, err := planner.Route(title, role, s.skills); err == nil {
			def = r.Skill
		} else if len(known) == 1 {
			def = known[0]
		}
	}
	return s.ask(ctx, fmt.Sprintf("Skill (%s)", strings.Join(known, ", ")), def, func(v string) (string, error) {
		if !s.skills.HasSkill(role, v) {
			return "", fmt.Errorf("role %s has no skill %q (known: %s)", role, v, strings.Join(known, ", "))
		}
		return v, nil
	})
}

func (s *planSession) checkRole(v string) (string, error) {
	if !s.skills.HasRole(v) {
		return "", fmt.Errorf("unknown role %q (known: %s)", v, strings.Join(s.skills.Roles(), ", "))
	}
	return v, nil
}

// checkSubtask accepts an empty answer (cancel) or a subtask's id.
func (s *planSession) checkSubtask(plan *planner.Plan) func(string) (string, error) {
	return func(v string) (string, error) {
		if _, ok := plan.Subtask(v); ok || v == "" {
			return v, nil
		}
		return "", fmt.Errorf("no subtask %q (subtasks: %s)", v, strings.Join(subtaskIDs(plan), ", "))
	}
}

// checkDepends accepts ids of the plan's subtasks other than self, or -.
func (s *planSession) checkDepends(plan *planner.Plan, self string) func(string) (string, error) {
	return func(v string) (string, error) {
		for _, d := range splitIDs(v) {
			if d == self {
				return "", fmt.Errorf("%s cannot depend on itself", self)
			}
			if _, ok := plan.Subtask(d); !ok {
				return "", fmt.Errorf("no subtask %q (subtasks: %s)", d, strings.Join(subtaskIDs(plan), ", "))
			}
		}
		return v, nil
	}
}

func checkPriority(v string) (string, error) {
	p, err := broker.ParsePriority(strings.ToLower(v))
	return string(p), err
}

// splitIDs reads a list of ids separated by spaces or commas; "-" is none.
func splitIDs(v string) []string {
	var ids []string
	for _, id := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' }) {
		if id != "-" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

func subtaskIDs(plan *planner.Plan) []string {
	var ids []string
	for _, st := range plan.Subtasks() {
		ids = append(ids, st.ID)
	}
	return ids
}

// printPlan shows the plan's phases with their days, and each subtask's
// id, role, priority, title and dependencies.
func printPlan(w io.Writer, p *planner.Plan) {
	subs := p.Subtasks()
	fmt.Fprintf(w, "\nPlan %s: %d subtasks in %d phases\n", p.Name, len(subs), len(p.Phases))
	if p.Goal != "" {
		fmt.Fprintf(w, "Goal: %s\n", p.Goal)
	}
	if len(p.Answers) > 0 {
		var given []string
		for _, k := range slices.Sorted(maps.Keys(p.Answers)) {
			given = append(given, k+"="+p.Answers[k])
		}
		fmt.Fprintf(w, "Answers: %s\n", strings.Join(given, ", "))
	}
	idW, roleW := 0, 0
	for _, st := range subs {
		idW, roleW = max(idW, len(st.ID)), max(roleW, len(st.Role))
	}
	for i, ph := range p.Phases {
		days := ""
		if ph.Days != "" {
			days = " (days " + ph.Days + ")"
		}
		fmt.Fprintf(w, "\n%d. %s%s\n", i+1, ph.Name, days)
		for _, st := range ph.Subtasks {
			fmt.Fprintf(w, "   %-*s  %-*s  %-6s  %s\n", idW, st.ID, roleW, st.Role, st.Priority, st.Title)
			switch {
			case len(st.DependsOn) == 0:
			case len(st.DependsOn) > 1 && len(st.DependsOn) == len(subs)-1:
				fmt.Fprintf(w, "   %-*s  after every other subtask\n", idW, "")
			default:
				fmt.Fprintf(w, "   %-*s  after %s\n", idW, "", strings.Join(st.DependsOn, ", "))
			}
		}
	}
	fmt.Fprintln(w)
}
