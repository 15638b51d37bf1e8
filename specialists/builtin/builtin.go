// Package builtin owns the offline, deterministic skills of the five
// specialist roles. Together they generate a production churn system as a
// Go module: feature pipelines and a feature store fitted to the job's
// data, models trained on it by the model engine (modelkit) and shipped as
// ONNX with the code that trained them, a scoring service with an A/B
// split, drift monitoring, a retraining pipeline and deployment configs.
// The same request always yields the same bytes.
//
//	reg := specialists.NewRegistry()
//	builtin.Register(reg)
//	skill, _ := reg.Lookup(specialists.RoleBackend, "serving")
//	res, err := skill(ctx, &specialists.Request{Job: "j1", Task: "serving"})
//	// res.Files holds models/serving/...
//
// The churn scenario is the first: one skill per subtask of the plan that
// planner.Decompose builds for a churn goal.
package builtin

import (
	"context"
	"fmt"
	"strings"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// churnSkill is one skill of the churn scenario. Its templates live under
// templates/churn/<name>/ laid out as the files they become.
type churnSkill struct {
	role string
	name string
	// data is set for the skills that read the job's data.
	data bool
	// what is the summary's description of the files.
	what string
	// generate, when set, makes files beyond the templates, and may set
	// what the templates see (p.Schema) and what the summary says.
	generate func(ctx context.Context, req *specialists.Request, p *churnParams) (files []artifacts.File, summary string, err error)
	// templates names the template folder for the params; nil means the
	// skill's name.
	templates func(p *churnParams) string
}

// churnSkills are the skills of the churn plan; planner.Decompose makes
// one subtask of each.
var churnSkills = []churnSkill{
	{role: specialists.RoleMLArchitect, name: "scaffold", generate: scaffold,
		what: "project scaffold: go.mod, orchestrate.yaml, README and architecture decisions"},
	{role: specialists.RoleDataPipeline, name: "features", data: true, generate: featurePipelines,
		what: "user, transaction and engagement feature pipelines mapped from the data's columns, and the split"},
	{role: specialists.RoleDataPipeline, name: "feature-store",
		what: "feature store: offline snapshot files and the online store on Redis"},
	{role: specialists.RoleDataScience, name: "train-models", data: true, generate: trainModels,
		what: "baseline, gradient-boosted trees and neural network trained and tuned on the job's data, as ONNX, with the training code"},
	{role: specialists.RoleDataScience, name: "model-evaluation",
		what: "model evaluation framework: metrics, champion and challenger, the promotion gate"},
	{role: specialists.RoleBackend, name: "ab-testing",
		what: "A/B split of champion and challenger by consistent hashing, with a ramp"},
	{role: specialists.RoleBackend, name: "serving",
		what: "real-time inference service: /predict, /healthz, /readyz, /metrics"},
	{role: specialists.RoleBackend, name: "load-test",
		what: "load test against the latency budget and end-to-end integration tests"},
	{role: specialists.RoleMLArchitect, name: "drift-monitoring",
		what: "drift detection (PSI and KS per feature) with alerting"},
	{role: specialists.RoleMLArchitect, name: "retraining",
		what: "scheduled retraining pipeline: retrain, evaluate, promote only a better challenger"},
	{role: specialists.RoleCloudArchitect, name: "deployment",
		templates: func(p *churnParams) string { return "deployment-" + p.Infra },
		what:      "deployment configuration sized from the data volume, with the A/B variants"},
	{role: specialists.RoleCloudArchitect, name: "dashboards",
		what: "performance monitoring dashboard and alerting rules"},
}

// Register adds the builtin skills to r.
func Register(r *specialists.Registry) {
	for _, s := range churnSkills {
		r.Register(s.role, s.name, s.run)
	}
	for _, s := range defectSkills {
		r.Register(s.role, s.name, s.run)
	}
}

func (s churnSkill) params() []string {
	if s.data {
		return append(append([]string(nil), planParams...), dataParams...)
	}
	return planParams
}

func (s churnSkill) run(ctx context.Context, req *specialists.Request) (*specialists.Result, error) {
	parse := func(in map[string]string) (*churnParams, error) { return parseParams(s.name, s.params(), in) }
	dirs := func(p *churnParams) []string {
		if s.templates != nil {
			return []string{"churn/" + s.templates(p)}
		}
		return []string{"churn/" + s.name}
	}
	return generateSkill(ctx, req, s.what, parse, s.generate, dirs)
}

// generateSkill is what every builtin skill does: parse the request's params,
// make the files the skill generates (generate may be nil; its summary is
// appended to what), and render the template folders dirs names.
func generateSkill[P any](ctx context.Context, req *specialists.Request, what string,
	parse func(map[string]string) (P, error),
	generate func(context.Context, *specialists.Request, P) ([]artifacts.File, string, error),
	dirs func(P) []string) (*specialists.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := parse(req.Params)
	if err != nil {
		return nil, err
	}
	var files []artifacts.File
	summary := what
	if generate != nil {
		var extra string
		if files, extra, err = generate(ctx, req, p); err != nil {
			return nil, err
		}
		if extra != "" {
			summary += "; " + extra
		}
	}
	for _, dir := range dirs(p) {
		rendered, err := render(dir, p)
		if err != nil {
			return nil, err
		}
		files = append(files, rendered...)
	}
	return skillResult(summary, files), nil
}

// skillResult is a skill's result: its files, and a summary that says what
// they are and where they went.
func skillResult(summary string, files []artifacts.File) *specialists.Result {
	return &specialists.Result{
		Files:   files,
		Summary: fmt.Sprintf("%s (%d files under %s)", summary, len(files), strings.Join(topDirs(files), ", ")),
	}
}

// topDirs lists the distinct first two path elements of files, in order.
func topDirs(files []artifacts.File) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range files {
		parts := strings.SplitN(f.Path, "/", 3)
		d := parts[0]
		if len(parts) == 3 {
			d += "/" + parts[1]
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}
