package planner

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// ErrNoScenario is wrapped by Decompose when no builtin scenario matches
// the goal.
var ErrNoScenario = errors.New("no builtin scenario matches the goal")

// ErrEmptyGoal is returned by Decompose for a blank goal.
var ErrEmptyGoal = errors.New("empty goal")

// The answers Decompose understands: the questions of our users' planning
// session (data volume, latency, retraining frequency, infrastructure).
const (
	AnswerVolume     = "volume"
	AnswerLatency    = "latency"
	AnswerRetraining = "retraining"
	AnswerInfra      = "infra"
)

// DefaultAnswers are the answers of our users' churn example: 1M
// customers, <100ms latency, weekly retraining, AWS infrastructure.
func DefaultAnswers() map[string]string {
	return map[string]string{
		AnswerVolume:     "1M",
		AnswerLatency:    "100ms",
		AnswerRetraining: "weekly",
		AnswerInfra:      "aws",
	}
}

// scenario is a goal the builtin specialists know how to decompose.
type scenario struct {
	name     string
	keywords []string // any of them in the goal, case-insensitive, selects the scenario
	example  string
	plan     func(goal string, answers map[string]string) (*Plan, error)
}

var scenarios = []scenario{{
	name:     "churn",
	keywords: []string{"churn"},
	example:  "Build production ML system for customer churn prediction with real-time inference",
	plan:     churnPlan,
}}

// Decompose turns a goal into the plan of the builtin scenario it names.
// answers may be nil; missing answers take DefaultAnswers. The error wraps
// ErrEmptyGoal, ErrNoScenario, or names the answer that is wrong.
func Decompose(goal string, answers map[string]string) (*Plan, error) {
	goal = strings.TrimSpace(goal)
	if goal == "" {
		return nil, fmt.Errorf("decompose: %w: describe what to build, e.g. %q", ErrEmptyGoal, scenarios[0].example)
	}
	filled := DefaultAnswers()
	for _, k := range slices.Sorted(maps.Keys(answers)) {
		if _, ok := filled[k]; !ok {
			return nil, fmt.Errorf("decompose: unknown answer %q (known: %s)", k, strings.Join(slices.Sorted(maps.Keys(filled)), ", "))
		}
		if v := strings.TrimSpace(answers[k]); v != "" {
			filled[k] = v
		}
	}
	lower := strings.ToLower(goal)
	for _, sc := range scenarios {
		for _, kw := range sc.keywords {
			if !strings.Contains(lower, kw) {
				continue
			}
			p, err := sc.plan(goal, filled)
			if err != nil {
				return nil, fmt.Errorf("decompose the %s scenario: %w", sc.name, err)
			}
			return p, nil
		}
	}
	known := make([]string, len(scenarios))
	for i, sc := range scenarios {
		known[i] = fmt.Sprintf("%s (goals mentioning %s, e.g. %q)", sc.name, strings.Join(sc.keywords, " or "), sc.example)
	}
	return nil, fmt.Errorf("decompose %q: %w; known scenarios: %s", goal, ErrNoScenario, strings.Join(known, "; "))
}

// churnPlan is the plan of our users' churn example: four phases, each
// subtask one builtin skill, with the dependencies of the code it
// generates (serving imports the model and the feature store, and so on).
func churnPlan(goal string, answers map[string]string) (*Plan, error) {
	p, err := churnParams(answers)
	if err != nil {
		return nil, err
	}
	// module is every skill's default too; it is spelled out because the
	// generated packages import each other by this path, so it must be the
	// same in every subtask that takes it.
	const module = "ml-system"
	task := func(id, title, role, instructions string, params map[string]string, deps ...string) Subtask {
		return Subtask{ID: id, Title: title, Role: role, Skill: id, Instructions: instructions,
			Params: params, DependsOn: deps, Priority: broker.Normal}
	}
	phases := []Phase{
		{Name: "Data Foundation", Days: "1-2", Subtasks: []Subtask{
			task("scaffold", "Project scaffold and architecture decisions", specialists.RoleMLArchitect,
				"Lay out the ml-system module, its test command and the decisions on latency, retraining, sizing and infrastructure.",
				map[string]string{"module": module, "latency_ms": p.latencyMS, "retraining": p.retraining, "volume": p.volume, "infra": p.infra}),
			task("features", "Feature engineering pipeline", specialists.RoleDataPipeline,
				"User, transaction and engagement features, and the stratified training/validation/test splits.",
				nil, "scaffold"),
			task("feature-store", "Feature store implementation", specialists.RoleDataPipeline,
				"Offline feature snapshots for training and an online store for real-time feature lookups.",
				map[string]string{"module": module}, "features"),
		}},
		{Name: "Model Development", Days: "3-4", Subtasks: []Subtask{
			task("baseline-model", "Baseline model (logistic regression)", specialists.RoleDataScience,
				"Train the logistic regression baseline and the model evaluation framework (ROC AUC, log loss, accuracy).",
				map[string]string{"module": module}, "features"),
		}},
		{Name: "Production Infrastructure", Days: "5-6", Subtasks: []Subtask{
			task("sagemaker", "Model serving with SageMaker endpoints", specialists.RoleCloudArchitect,
				"Endpoint with champion and challenger variants for A/B testing, and the scheduled training job.",
				map[string]string{"volume": p.volume, "retraining": p.retraining}, "scaffold"),
			task("serving", "Real-time inference pipeline", specialists.RoleBackend,
				"HTTP scoring of one customer or a batch, with features from the request or the online store.",
				map[string]string{"module": module}, "baseline-model", "feature-store"),
			task("load-test", "Load and integration tests", specialists.RoleBackend,
				"Hold p99 latency under the budget and run features, model and serving end to end.",
				map[string]string{"module": module, "latency_ms": p.latencyMS}, "serving"),
		}},
		{Name: "Monitoring & Operations", Days: "7", Subtasks: []Subtask{
			task("monitoring", "Model drift detection and performance monitoring dashboards", specialists.RoleMLArchitect,
				"PSI and KS drift checks with alerting thresholds, and the monitoring dashboard.",
				map[string]string{"latency_ms": p.latencyMS}, "scaffold"),
		}},
	}
	var all []string
	for _, ph := range phases {
		for _, st := range ph.Subtasks {
			all = append(all, st.ID)
		}
	}
	collect := task("collect", "Assemble the project and run its tests", specialists.RoleCollector,
		"Assemble every subtask's files into one tree and run the test command of its orchestrate.yaml.", nil, all...)
	collect.Skill = "assemble"
	// The collector's run is bounded by the tree's own test timeout (10m in
	// orchestrate.yaml); its task must outlive that to report the result.
	collect.Timeout = 15 * time.Minute
	last := &phases[len(phases)-1]
	last.Subtasks = append(last.Subtasks, collect)
	return &Plan{Name: "ml-churn-system", Goal: goal, Answers: answers, Phases: phases}, nil
}

// churnSkillParams are the answers in the form the churn skills read.
type churnSkillParams struct {
	volume, latencyMS, retraining, infra string
}

var volumeAnswer = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([kKmMbB]?)$`)

// churnParams checks the answers and converts them; each error names the
// answer and says what would be accepted.
func churnParams(a map[string]string) (churnSkillParams, error) {
	bad := func(key, want string) error {
		return fmt.Errorf("answer %s=%q: want %s", key, a[key], want)
	}
	var p churnSkillParams
	p.volume = a[AnswerVolume]
	if _, err := customers(p.volume); err != nil {
		return p, bad(AnswerVolume, "a number of customers from 1 to 1e12, such as 250000, 100K or 1M")
	}
	ms, err := latencyMillis(a[AnswerLatency])
	if err != nil {
		return p, bad(AnswerLatency, "a latency such as 100ms, 0.5s or 100 (milliseconds), from 1ms to 1m")
	}
	p.latencyMS = strconv.Itoa(ms)
	switch p.retraining = strings.ToLower(a[AnswerRetraining]); p.retraining {
	case "daily", "weekly", "monthly":
	default:
		return p, bad(AnswerRetraining, "daily, weekly or monthly")
	}
	if p.infra = strings.ToLower(a[AnswerInfra]); p.infra != "aws" {
		return p, bad(AnswerInfra, "aws, the only infrastructure the churn scenario deploys to")
	}
	return p, nil
}

// latencyMillis reads a latency as users write it: "100ms", "<100ms",
// "0.5s", or a bare number of milliseconds. Fractions of a millisecond
// round up: the budget must not be stricter than asked.
func latencyMillis(s string) (int, error) {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "<"))
	if _, err := strconv.Atoi(s); err == nil {
		s += "ms"
	}
	d, err := time.ParseDuration(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		return 0, err
	}
	if d < time.Millisecond || d > time.Minute {
		return 0, fmt.Errorf("latency %v out of range", d)
	}
	return int((d + time.Millisecond - 1) / time.Millisecond), nil
}

// customers reads a volume answer: 250000, 100K, 1M, 1.5M, 2B. The builtin
// skills parse their volume param with the same grammar (catalog_test
// runs them on the planned params).
func customers(v string) (float64, error) {
	m := volumeAnswer.FindStringSubmatch(v)
	if m == nil {
		return 0, errors.New("not a count")
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, err
	}
	n *= map[string]float64{"": 1, "K": 1e3, "M": 1e6, "B": 1e9}[strings.ToUpper(m[2])]
	if n < 1 || n > 1e12 {
		return 0, errors.New("out of range")
	}
	return n, nil
}
