package planner_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/orchestrate-dev/orchestrate/planner"
)

const defectGoal = "Build defect detection system using computer vision for manufacturing QC with edge deployment"

// The plan follows our users' breakdown: data pipeline, model development,
// training infrastructure and edge deployment, each owned by the role the
// example names, and validates against the builtin skills.
func TestDefectPlanFollowsTheUsersBreakdown(t *testing.T) {
	p := mustDecompose(t, defectGoal, nil)
	if err := p.Validate(churnRegistry()); err != nil {
		t.Fatal(err)
	}
	if p.Name != "defect-detection-qc" {
		t.Errorf("name %q", p.Name)
	}
	var got []string
	for _, ph := range p.Phases {
		var ids []string
		for _, st := range ph.Subtasks {
			ids = append(ids, st.ID+"="+st.Role)
		}
		got = append(got, ph.Name+" ("+ph.Days+"): "+strings.Join(ids, " "))
	}
	want := []string{
		"Data Pipeline (1-2): qc-scaffold=ml-systems-architect image-pipeline=data-pipeline-engineer",
		"Model Development (3-4): cnn-model=ml-systems-architect",
		"Training Infrastructure (5): training-infra=data-science-analyst",
		"Edge Deployment (6-7): edge-deployment=aws-cloud-architect collect=collector",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("phases:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for id, deps := range map[string]string{
		"image-pipeline": "qc-scaffold", "cnn-model": "image-pipeline", "training-infra": "cnn-model",
		"edge-deployment": "cnn-model", "collect": "qc-scaffold image-pipeline cnn-model training-infra edge-deployment",
	} {
		if got := strings.Join(findSubtask(t, p, id).DependsOn, " "); got != deps {
			t.Errorf("%s depends on %q, want %q", id, got, deps)
		}
	}
	for _, kw := range []string{"ingestion", "labeling", "augmentation", "CNN", "transfer learning", "MLflow", "quantization", "OTA"} {
		found := false
		for _, st := range p.Subtasks() {
			found = found || strings.Contains(st.Title, kw)
		}
		if !found {
			t.Errorf("no subtask title mentions %s", kw)
		}
	}
}

func TestDefectAnswersReachTheSkills(t *testing.T) {
	p := mustDecompose(t, defectGoal, map[string]string{"volume": "2M", "latency": "20ms", "retraining": "daily", "infra": "k8s"})
	got := findSubtask(t, p, "edge-deployment").Params
	for k, v := range map[string]string{"volume": "2M", "latency_ms": "20", "retraining": "daily", "infra": "kubernetes", "module": "defect-qc"} {
		if got[k] != v {
			t.Errorf("param %s=%q, want %q", k, got[k], v)
		}
	}
	p, err := planner.DecomposeData(defectGoal, nil, planner.Dataset{Rows: 600, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if got := findSubtask(t, p, "cnn-model").Params; got["images"] != "600" || got["seed"] != "7" {
		t.Errorf("cnn-model params %v, want images=600 seed=7", got)
	}
}

func TestDefectRefusesTabularData(t *testing.T) {
	for _, d := range []planner.Dataset{
		{Train: strings.Repeat("ab", 32)},
		{Target: "Churned"},
		{Positive: "yes"},
		{Rows: 150},
	} {
		if _, err := planner.DecomposeData(defectGoal, nil, d); err == nil {
			t.Errorf("%+v was accepted", d)
		}
	}
	_, err := planner.Decompose(defectGoal, map[string]string{"infra": "gcp"})
	if err == nil || !strings.Contains(err.Error(), "IoT Greengrass") {
		t.Errorf("infra=gcp: err = %v, want one naming what the defect scenario deploys to", err)
	}
}

// The planning session asks about what the scenario counts: customers for
// churn, camera frames for defect detection, with each one's defaults.
func TestQuestionsFollowTheScenario(t *testing.T) {
	for goal, want := range map[string]string{
		churnGoal:  "Data volume and velocity (customers) [1M]",
		defectGoal: "Data volume and velocity (camera frames per day) [100K]",
	} {
		qs, err := planner.Questions(goal)
		if err != nil {
			t.Fatal(err)
		}
		if got := qs[0].Text + " [" + qs[0].Default + "]"; got != want || len(qs) != 4 {
			t.Errorf("%s: first of %d questions %q, want %q", goal, len(qs), got, want)
		}
	}
	if _, err := planner.Questions("Build a compiler for COBOL"); !errors.Is(err, planner.ErrNoScenario) {
		t.Errorf("unknown goal: err = %v", err)
	}
	for _, goal := range []string{"Train an image classification model for parts", "Visual inspection of welds", "DEFECT detection"} {
		if p, err := planner.Decompose(goal, nil); err != nil || p.Name != "defect-detection-qc" {
			t.Errorf("%q: %v", goal, err)
		}
	}
}
