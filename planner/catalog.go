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
	// defaults are the answers assumed for questions not answered.
	defaults map[string]string
	// volumeUnit is what the volume answer counts, for the question.
	volumeUnit string
	plan       func(goal string, answers map[string]string, data Dataset) (*Plan, error)
}

var scenarios = []scenario{{
	name:       "churn",
	keywords:   []string{"churn"},
	example:    "Build production ML system for customer churn prediction with real-time inference",
	defaults:   DefaultAnswers(),
	volumeUnit: "customers",
	plan:       churnPlan,
}, {
	name:     "defect",
	keywords: []string{"defect", "computer vision", "visual inspection", "image classification"},
	example:  "Build defect detection system using computer vision for manufacturing QC with edge deployment",
	// 100K frames a day across the lines, 50 ms per frame on the device,
	// weekly retraining, AWS IoT Greengrass on the devices.
	defaults: map[string]string{
		AnswerVolume: "100K", AnswerLatency: "50ms", AnswerRetraining: "weekly", AnswerInfra: "aws",
	},
	volumeUnit: "camera frames per day",
	plan:       defectPlan,
}}

// Question is one question of a planning session.
type Question struct {
	Key, Text, Default string
}

// Questions are the questions that matter for the goal's scenario, in
// order, with the answers assumed when they are not given. The error wraps
// ErrEmptyGoal or ErrNoScenario.
func Questions(goal string) ([]Question, error) {
	sc, err := scenarioOf(goal)
	if err != nil {
		return nil, err
	}
	return []Question{
		{AnswerVolume, "Data volume and velocity (" + sc.volumeUnit + ")", sc.defaults[AnswerVolume]},
		{AnswerLatency, "Latency requirement", sc.defaults[AnswerLatency]},
		{AnswerRetraining, "Retraining frequency (daily, weekly or monthly)", sc.defaults[AnswerRetraining]},
		{AnswerInfra, "Existing infrastructure (aws or kubernetes)", sc.defaults[AnswerInfra]},
	}, nil
}

// scenarioOf finds the builtin scenario a goal names.
func scenarioOf(goal string) (scenario, error) {
	goal = strings.TrimSpace(goal)
	if goal == "" {
		return scenario{}, fmt.Errorf("decompose: %w: describe what to build, e.g. %q", ErrEmptyGoal, scenarios[0].example)
	}
	if err := checkText("goal", goal); err != nil {
		return scenario{}, fmt.Errorf("decompose: %w", err)
	}
	lower := strings.ToLower(goal)
	for _, sc := range scenarios {
		for _, kw := range sc.keywords {
			if strings.Contains(lower, kw) {
				return sc, nil
			}
		}
	}
	known := make([]string, len(scenarios))
	for i, sc := range scenarios {
		known[i] = fmt.Sprintf("%s (goals mentioning %s, e.g. %q)", sc.name, strings.Join(sc.keywords, " or "), sc.example)
	}
	return scenario{}, fmt.Errorf("decompose %q: %w; known scenarios: %s", goal, ErrNoScenario, strings.Join(known, "; "))
}

// Decompose turns a goal into the plan of the builtin scenario it names,
// trained on synthetic data. answers may be nil; missing answers take
// DefaultAnswers. The error wraps ErrEmptyGoal, ErrNoScenario, or names
// the answer that is wrong.
func Decompose(goal string, answers map[string]string) (*Plan, error) {
	return DecomposeData(goal, answers, Dataset{})
}

// DecomposeData is Decompose for a job that trains on data: the subtasks
// that read it get its params.
func DecomposeData(goal string, answers map[string]string, data Dataset) (*Plan, error) {
	sc, err := scenarioOf(goal)
	if err != nil {
		return nil, err
	}
	goal = strings.TrimSpace(goal)
	filled := maps.Clone(sc.defaults)
	for _, k := range slices.Sorted(maps.Keys(answers)) {
		if _, ok := filled[k]; !ok {
			return nil, fmt.Errorf("decompose: unknown answer %q (known: %s)", k, strings.Join(slices.Sorted(maps.Keys(filled)), ", "))
		}
		if v := strings.TrimSpace(answers[k]); v != "" {
			filled[k] = v
		}
	}
	if err := data.validate(); err != nil {
		return nil, fmt.Errorf("decompose: %w", err)
	}
	p, err := sc.plan(goal, filled, data)
	if err != nil {
		return nil, fmt.Errorf("decompose the %s scenario: %w", sc.name, err)
	}
	var given []string
	for _, k := range slices.Sorted(maps.Keys(filled)) {
		given = append(given, k+"="+filled[k])
	}
	p.Record(ActionCreated, "", fmt.Sprintf("the builtin %s scenario, answers %s", sc.name, strings.Join(given, ", ")))
	return p, nil
}

// churnPlan is the plan of our users' churn example: four phases whose
// subtasks are builtin skills, with the dependencies of the code they
// generate (serving imports the models and the feature store, and so on).
func churnPlan(goal string, answers map[string]string, data Dataset) (*Plan, error) {
	p, err := parseAnswers(answers, "customers", "aws (SageMaker configs) or kubernetes (manifests)")
	if err != nil {
		return nil, err
	}
	target := data.Target
	if target == "" {
		target = SyntheticTarget
	}
	seed := data.Seed
	if seed == 0 {
		seed = DefaultSeed
	}
	// Every skill reads the plan's params: the generated packages import
	// each other by the module path, and the budget, schedule and split
	// appear in several of them, so all must see the same values.
	common := map[string]string{
		"module": "ml-system", "latency_ms": p.latencyMS, "retraining": p.retraining, "volume": p.volume,
		"infra": p.infra, "challenger_pct": strconv.Itoa(DefaultChallengerPercent), "seed": strconv.FormatUint(seed, 10), "target": target,
	}
	withData := maps.Clone(common)
	for k, v := range data.params() {
		withData[k] = v
	}
	task := func(id, title, role, instructions string, params map[string]string, deps ...string) Subtask {
		return Subtask{ID: id, Title: title, Role: role, Skill: id, Instructions: instructions,
			Params: maps.Clone(params), DependsOn: deps, Priority: broker.Normal}
	}
	deployTitle, deployWhat := "Model serving with SageMaker endpoint configs", "SageMaker endpoint with champion and challenger production variants, autoscaling, and the scheduled training job, sized for "+p.volume+" customers."
	if p.infra == "kubernetes" {
		deployTitle, deployWhat = "Model serving on Kubernetes", "Deployment, service and autoscaler of the scoring service, and the retraining CronJob, sized for "+p.volume+" customers."
	}
	train := task("train-models", "Baseline model (logistic regression), advanced models (gradient-boosted trees, neural network) and hyperparameter optimization", specialists.RoleDataScience,
		"Train the logistic regression baseline, gradient-boosted trees and a neural network on the job's data, tune each by random search on validation ROC AUC, export them as ONNX and ship the code that reproduces them.",
		withData, "features")
	// Training reads the whole data set, and a million customers take
	// minutes per model family.
	train.Timeout = time.Hour
	phases := []Phase{
		{Name: "Data Foundation", Days: "1-2", Subtasks: []Subtask{
			task("scaffold", "Project scaffold and architecture decisions", specialists.RoleMLArchitect,
				"Lay out the module, its test command and the decisions on latency, retraining, sizing and infrastructure.",
				common),
			task("features", "Feature engineering pipeline and training/validation/test splits", specialists.RoleDataPipeline,
				"Map the data's columns to user, transaction and engagement features, the feature step shared by training and serving, and the stratified splits.",
				withData, "scaffold"),
			task("feature-store", "Feature store implementation", specialists.RoleDataPipeline,
				"Offline feature snapshots for training and an online store on Redis for real-time lookups.",
				common, "features"),
		}},
		{Name: "Model Development", Days: "3-4", Subtasks: []Subtask{
			train,
			task("model-evaluation", "Model evaluation framework", specialists.RoleDataScience,
				"Metrics of every model, champion and challenger, and the gate that promotes a challenger only when it is better.",
				common, "train-models"),
		}},
		{Name: "Production Infrastructure", Days: "5-6", Subtasks: []Subtask{
			task("ab-testing", "A/B testing framework", specialists.RoleBackend,
				"Split customers between champion and challenger by consistent hashing, with a ramp and sticky assignment.",
				common, "scaffold"),
			task("serving", "Real-time inference with real-time feature computation", specialists.RoleBackend,
				"HTTP scoring of one customer or a batch within "+p.latencyMS+" ms, features from the request and the online store, the A/B split recorded per prediction.",
				common, "train-models", "feature-store", "ab-testing"),
			task("deployment", deployTitle, specialists.RoleCloudArchitect, deployWhat, common, "serving"),
			task("load-test", "Load and integration tests", specialists.RoleBackend,
				"Hold the p99 latency under "+p.latencyMS+" ms at 200 requests/s, and run the online store, features, models and serving end to end.",
				common, "serving"),
		}},
		{Name: "Monitoring & Operations", Days: "7", Subtasks: []Subtask{
			task("drift-monitoring", "Model drift detection and alerting", specialists.RoleMLArchitect,
				"PSI and KS per feature against the training baseline, with thresholds and alerts.",
				common, "features", "train-models"),
			task("dashboards", "Performance monitoring dashboards", specialists.RoleCloudArchitect,
				"A dashboard of the service's traffic, latency against the budget, A/B split and drift, and the alerting rules.",
				common, "serving", "drift-monitoring"),
			task("retraining", "Automated retraining pipeline", specialists.RoleMLArchitect,
				"Retrain "+p.retraining+", evaluate, and promote the challenger only when it beats the champion.",
				common, "model-evaluation"),
		}},
	}
	collect := collectTask(phases)
	last := &phases[len(phases)-1]
	last.Subtasks = append(last.Subtasks, collect)
	return &Plan{Name: "ml-churn-system", Goal: goal, Answers: answers, Phases: phases}, nil
}

// churnSkillParams are the answers in the form the skills read.
type churnSkillParams struct {
	volume, latencyMS, retraining, infra string
}

var volumeAnswer = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([kKmMbB]?)$`)

// parseAnswers checks the answers and converts them; each error names the
// answer and says what would be accepted: unit is what the volume counts,
// infras what each infrastructure means to the scenario.
func parseAnswers(a map[string]string, unit, infras string) (churnSkillParams, error) {
	bad := func(key, want string) error {
		return fmt.Errorf("answer %s=%q: want %s", key, a[key], want)
	}
	var p churnSkillParams
	p.volume = a[AnswerVolume]
	if _, err := customers(p.volume); err != nil {
		return p, bad(AnswerVolume, "a number of "+unit+" from 1 to 1e12, such as 250000, 100K or 1M")
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
	switch p.infra = strings.ToLower(a[AnswerInfra]); p.infra {
	case "aws", "kubernetes":
	case "k8s":
		p.infra = "kubernetes"
	default:
		return p, bad(AnswerInfra, infras)
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

// EnsureCollect adds the collector's subtask to the last phase, depending
// on every other subtask, unless the plan has a subtask of the collector.
func (p *Plan) EnsureCollect() {
	for _, st := range p.Subtasks() {
		if st.Role == specialists.RoleCollector {
			return
		}
	}
	if len(p.Phases) == 0 {
		return
	}
	c := collectTask(p.Phases)
	last := &p.Phases[len(p.Phases)-1]
	last.Subtasks = append(last.Subtasks, c)
}

// collectTask is the last subtask of a plan: the collector assembles the
// files of every other subtask and runs the tree's tests.
func collectTask(phases []Phase) Subtask {
	var all []string
	for _, ph := range phases {
		for _, st := range ph.Subtasks {
			all = append(all, st.ID)
		}
	}
	return Subtask{ID: "collect", Title: "Assemble the project and run its tests", Role: specialists.RoleCollector, Skill: "assemble",
		Instructions: "Assemble every subtask's files into one tree and run the test command of its orchestrate.yaml.",
		DependsOn:    all, Priority: broker.Normal,
		// The collector's run is bounded by the tree's own test timeout
		// (10m in orchestrate.yaml); its task must outlive that to report
		// the result.
		Timeout: 15 * time.Minute}
}
