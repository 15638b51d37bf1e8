package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

const defectGoal = "Build defect detection system using computer vision for manufacturing QC with edge deployment"

// Our users' computer-vision example, as they type it: submit with
// --decompose plans the four phases of their breakdown, each owned by the
// role they name, and the job builds a project whose tests pass.
func TestTheDefectDetectionGoalDecomposesAndBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a CNN and tests a whole project")
	}
	c := startCluster(t, specialists.RoleMLArchitect, specialists.RoleDataPipeline, specialists.RoleDataScience,
		specialists.RoleCloudArchitect, specialists.RoleCollector)
	code, stdout, stderr := c.run(t, "submit", defectGoal, "--decompose", "--rows", "400", "--wait", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	var r JobReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	if r.State != planner.JobSucceeded || r.Tests == nil || !r.Tests.Passed || r.Tests.Packages < 10 {
		t.Fatalf("report %s", stdout)
	}
	var got []string
	for _, p := range r.Phases {
		got = append(got, p.Name)
	}
	if want := "Data Pipeline,Model Development,Training Infrastructure,Edge Deployment"; strings.Join(got, ",") != want {
		t.Errorf("phases %v, want %s", got, want)
	}
	owners := map[string]string{}
	for _, task := range r.Tasks {
		owners[task.ID] = task.Role
	}
	for id, role := range map[string]string{
		"image-pipeline": specialists.RoleDataPipeline, "cnn-model": specialists.RoleMLArchitect,
		"training-infra": specialists.RoleDataScience, "edge-deployment": specialists.RoleCloudArchitect,
	} {
		if owners[id] != role {
			t.Errorf("subtask %s owned by %q, want %s", id, owners[id], role)
		}
	}
	for _, path := range []string{"artifacts/models/defect_cnn_int8.onnx", "artifacts/models/model_card.md", "data-pipeline/README.md",
		"experiments/tuning.json", "edge/infer/cmd/edge-infer/main.go", "edge/greengrass/recipe.yaml", "training/tracking/client.go"} {
		if _, err := c.st.Store.Read(context.Background(), r.Job, path); err != nil {
			t.Errorf("the job has no %s: %v", path, err)
		}
	}
}
