package planner

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// ErrNoRoute is wrapped when no builtin skill matches a task's text.
var ErrNoRoute = errors.New("no builtin skill matches the task")

// Routing is where Route sends a task, and why.
type Routing struct {
	Role, Skill string
	// Matched are the words of the text that chose the skill.
	Matched []string
}

// skillWords are the words that send a free-form task to a builtin skill.
// A text is scored by the words it contains; the best-scoring skill wins,
// the order here breaking ties.
var skillWords = []struct {
	role, skill string
	words       []string
}{
	{specialists.RoleMLArchitect, "cnn-model", []string{"cnn", "convolution", "transfer learning", "efficientnet", "resnet", "image model", "vision model", "quantiz"}},
	{specialists.RoleDataPipeline, "image-pipeline", []string{"image", "camera", "frame", "labeling", "labelling", "annotat", "augment"}},
	{specialists.RoleDataScience, "training-infra", []string{"mlflow", "experiment tracking", "distributed training", "hyperparameter tuning", "training infrastructure", "training job"}},
	{specialists.RoleCloudArchitect, "edge-deployment", []string{"edge", "ota update", "over-the-air", "greengrass", "iot", "device", "k3s"}},
	{specialists.RoleDataScience, "train-models", []string{"logistic regression", "baseline", "train", "classifier", "xgboost", "gradient", "boost", "neural network", "hyperparameter", "model"}},
	{specialists.RoleDataScience, "model-evaluation", []string{"evaluat", "metric", "auc", "compare", "comparison", "champion", "challenger"}},
	{specialists.RoleDataPipeline, "feature-store", []string{"feature store", "online store", "offline store", "snapshot", "lookup"}},
	{specialists.RoleDataPipeline, "features", []string{"feature", "pipeline", "etl", "split", "schema", "column"}},
	{specialists.RoleBackend, "ab-testing", []string{"a/b", "ab test", "experiment", "ramp", "traffic split"}},
	{specialists.RoleBackend, "load-test", []string{"load test", "latency", "throughput", "benchmark", "stress"}},
	{specialists.RoleBackend, "serving", []string{"serving", "serve", "inference", "api", "endpoint", "real-time", "realtime", "http"}},
	{specialists.RoleMLArchitect, "drift-monitoring", []string{"drift", "monitor", "psi"}},
	{specialists.RoleMLArchitect, "retraining", []string{"retrain", "schedule", "promot"}},
	{specialists.RoleMLArchitect, "scaffold", []string{"architecture", "design", "scaffold", "system", "decision"}},
	{specialists.RoleCloudArchitect, "dashboards", []string{"dashboard", "grafana", "alert", "observability"}},
	{specialists.RoleCloudArchitect, "deployment", []string{"sagemaker", "deploy", "kubernetes", "aws", "cloud", "autoscal", "infrastructure"}},
}

// Route picks the builtin role and skill for a free-form task: within role
// when it is given, else across every role. A text that matches nothing
// wraps ErrNoRoute and lists what would be understood.
func Route(text, role string, skills Skills) (Routing, error) {
	lower := strings.ToLower(text)
	best, bestScore := -1, 0
	var matched []string
	for i, sw := range skillWords {
		if role != "" && sw.role != role {
			continue
		}
		if !skills.HasSkill(sw.role, sw.skill) {
			continue
		}
		var hits []string
		for _, w := range sw.words {
			if strings.Contains(lower, w) {
				hits = append(hits, w)
			}
		}
		if len(hits) > bestScore {
			best, bestScore, matched = i, len(hits), hits
		}
	}
	if best >= 0 {
		return Routing{Role: skillWords[best].role, Skill: skillWords[best].skill, Matched: matched}, nil
	}
	if role != "" {
		if !skills.HasRole(role) {
			return Routing{}, fmt.Errorf("unknown role %q (known: %s)", role, strings.Join(skills.Roles(), ", "))
		}
		return Routing{}, fmt.Errorf("%w %q: role %s has the skills %s; name one with --skill", ErrNoRoute, text, role, strings.Join(skills.Skills(role), ", "))
	}
	var known []string
	for _, sw := range skillWords {
		if skills.HasSkill(sw.role, sw.skill) && !slices.Contains(known, sw.role+"/"+sw.skill) {
			known = append(known, sw.role+"/"+sw.skill)
		}
	}
	return Routing{}, fmt.Errorf("%w %q; name a role with --agent (role/skill: %s)", ErrNoRoute, text, strings.Join(known, ", "))
}

// Single is the plan of one subtask: a task sent to one role.
func Single(text string, r Routing, prio string) (*Plan, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, fmt.Errorf("%w: describe the task", ErrEmptyGoal)
	}
	if err := checkText("task", text); err != nil {
		return nil, err
	}
	p, err := parsePriority(prio)
	if err != nil {
		return nil, err
	}
	st := Subtask{ID: r.Skill, Title: text, Role: r.Role, Skill: r.Skill, Instructions: text, Priority: p}
	plan := &Plan{Name: Slug(text), Goal: text, Phases: []Phase{{Name: "Task", Subtasks: []Subtask{st}}}}
	plan.Record(ActionCreated, "", fmt.Sprintf("one subtask for %s (skill %s)", r.Role, r.Skill))
	return plan, nil
}

func parsePriority(s string) (broker.Priority, error) {
	p, err := broker.ParsePriority(s)
	if err != nil {
		return "", err
	}
	if p == "" {
		p = broker.Normal
	}
	return p, nil
}

// SetPriority gives every subtask the priority (high, normal or low).
func (p *Plan) SetPriority(prio string) error {
	pr, err := parsePriority(prio)
	if err != nil {
		return err
	}
	for i := range p.Phases {
		for j := range p.Phases[i].Subtasks {
			p.Phases[i].Subtasks[j].Priority = pr
		}
	}
	return nil
}

// MaxGoalBytes bounds a goal or task text: it travels in every task
// message and job record.
const MaxGoalBytes = 4096

// checkText refuses texts no one means: too long, not UTF-8, or with
// control characters (a tab or a newline is fine).
func checkText(what, text string) error {
	if len(text) > MaxGoalBytes {
		return fmt.Errorf("%w: the %s is %d bytes, more than the %d allowed", ErrInvalidPlan, what, len(text), MaxGoalBytes)
	}
	if !utf8.ValidString(text) {
		return fmt.Errorf("%w: the %s is not valid UTF-8", ErrInvalidPlan, what)
	}
	for i, r := range text {
		if unicode.IsControl(r) && r != '\t' && r != '\n' {
			return fmt.Errorf("%w: the %s has the control character %U at byte %d", ErrInvalidPlan, what, r, i)
		}
	}
	return nil
}
