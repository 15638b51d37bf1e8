// Package llmplan is the llm planner: it asks a language model to
// decompose a goal into a plan of the roles and skills at hand, checks
// the answer as a plan file is checked, sends the problems back once for
// a repair, and leaves falling back to the builtin catalog to its caller.
//
//	p, usage, err := llmplan.Decompose(ctx, cfg, goal, answers, registry)
//	if errors.Is(err, llmagent.ErrNoAnswer) { /* use planner.Decompose */ }
package llmplan

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/llmagent"
)

// Repairs is how often an invalid plan is sent back with its problems.
const Repairs = 1

const system = `You are the planner of orchestrate, a system in which specialist agents build software projects together. ` +
	`You decompose a goal into phases of subtasks, each owned by one role, and answer with the tool submit_plan.`

// Decompose asks cfg's model for a plan of goal, valid for skills. It
// returns the plan and what the calls took; an error wrapping
// llmagent.ErrNoAnswer means the model's plans stayed invalid.
func Decompose(ctx context.Context, cfg llmagent.Config, goal string, answers map[string]string, skills planner.Skills) (*planner.Plan, specialists.Usage, error) {
	var plan *planner.Plan
	q := llmagent.Question{
		System: system, Prompt: prompt(goal, answers, skills),
		Tool: "submit_plan", Description: "Submit the plan: a JSON object as the prompt describes.",
		Args:    map[string]string{"plan": "the plan as a JSON object"},
		Repairs: Repairs,
		Check: func(args map[string]string) error {
			p, err := check(args["plan"], goal, answers, skills)
			plan = p
			return err
		},
	}
	_, usage, err := llmagent.Ask(ctx, cfg, nil, q)
	if err != nil {
		return nil, usage, err
	}
	plan.Record(planner.ActionCreated, "", fmt.Sprintf("by the llm planner (%s, %d calls, $%.4f)", cfg.Model, usage.Calls, usage.CostUSD))
	return plan, usage, nil
}

// check reads a plan the model proposed. JSON is YAML, so the plan file
// reader names the field and line of each problem.
func check(text, goal string, answers map[string]string, skills planner.Skills) (*planner.Plan, error) {
	p, err := planner.ReadYAML([]byte(text))
	if err != nil {
		return nil, err
	}
	p.Goal, p.Answers = goal, maps.Clone(answers)
	p.History = nil
	var probs []string
	for _, st := range p.Subtasks() {
		if st.Skill == specialists.SkillFreeForm && !skills.HasSkill(st.Role, st.Skill) {
			probs = append(probs, fmt.Sprintf("subtask %s: role %s runs only its builtin skills (%s); name one of them",
				st.ID, st.Role, strings.Join(skills.Skills(st.Role), ", ")))
		}
		if st.Skill == specialists.SkillFreeForm && strings.TrimSpace(st.Instructions) == "" {
			probs = append(probs, fmt.Sprintf("subtask %s: a free-form subtask needs instructions", st.ID))
		}
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(probs, "; "))
	}
	p.EnsureCollect()
	if err := p.Validate(skills); err != nil {
		return nil, err
	}
	return p, nil
}

// prompt tells the model the goal, the answers and what each role can do.
func prompt(goal string, answers map[string]string, skills planner.Skills) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Goal: %s\n\n", goal)
	if len(answers) > 0 {
		b.WriteString("The user's answers:\n")
		for _, k := range slices.Sorted(maps.Keys(answers)) {
			fmt.Fprintf(&b, "- %s: %s\n", k, answers[k])
		}
		b.WriteString("\n")
	}
	b.WriteString("The roles and their skills:\n")
	for _, role := range skills.Roles() {
		if role == specialists.RoleCollector || role == specialists.RoleDiag {
			continue
		}
		fmt.Fprintf(&b, "- %s: %s\n", role, strings.Join(skills.Skills(role), ", "))
	}
	fmt.Fprintf(&b, `
A subtask either names one of its role's skills, or, for a role whose skills include %[1]q,
has the skill %[1]q and says in its instructions exactly what to produce.
The collector's subtask, which assembles every file and runs the tests, is added for you.
One subtask must write orchestrate.yaml at the root of the project:
  test:
    command: ["go", "test", "./..."]
    timeout: 10m

Answer with submit_plan, its argument "plan" a JSON object:
{"name": "short-name-with-dashes",
 "phases": [{"name": "Data Foundation", "days": "1-2",
             "subtasks": [{"id": "features", "title": "...", "role": "...", "skill": "...",
                           "instructions": "...", "depends_on": ["other-id"], "priority": "normal"}]}]}
Ids are unique, made of letters, digits and dashes; depends_on names ids of any phase, without cycles;
priority is high, normal or low.
`, specialists.SkillFreeForm)
	return b.String()
}
