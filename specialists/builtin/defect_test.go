package builtin

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchestrate-dev/orchestrate/specialists"
)

// runDefectSkill runs one defect skill through a registry, as a worker
// would, and checks that it made files and said so.
func runDefectSkill(t *testing.T, s defectSkill, params map[string]string) *specialists.Result {
	t.Helper()
	res := runRegistered(t, s.role, s.name, params)
	if len(res.Files) == 0 || res.Summary == "" {
		t.Fatalf("skill %s: %d files, summary %q", s.name, len(res.Files), res.Summary)
	}
	return res
}

func defectSkillNamed(t *testing.T, name string) defectSkill {
	t.Helper()
	for _, s := range defectSkills {
		if s.name == name {
			return s
		}
	}
	t.Fatalf("no defect skill %s", name)
	return defectSkill{}
}

// writeDefectTree writes the files of the named defect skills into dir
// (every skill when none is named), failing when two skills claim a path.
func writeDefectTree(t *testing.T, dir string, params map[string]string, names ...string) {
	t.Helper()
	if len(names) == 0 {
		for _, s := range defectSkills {
			names = append(names, s.name)
		}
	}
	owner := map[string]string{}
	for _, name := range names {
		s := defectSkillNamed(t, name)
		writeFiles(t, dir, s.name, runDefectSkill(t, s, params).Files, owner)
	}
}

// The generated project builds offline with the scaffold's go.mod and
// go.sum, and every package's own tests pass.
func TestGeneratedDefectProjectPassesItsOwnTests(t *testing.T) {
	dir := t.TempDir()
	writeDefectTree(t, dir, nil)
	goCmd(t, dir, nil, "vet", "./...")
	out, took := goCmd(t, dir, nil, "test", "-count=1", "./...")
	t.Logf("go test ./... of the generated project took %v:\n%s", took.Round(time.Millisecond), out)
	for _, pkg := range []string{
		"data-pipeline/ingest", "data-pipeline/labeling", "data-pipeline/augment", "models/cnn",
		"training/tracking", "training/tuning", "training/cmd/train", "training/sagemaker",
		"edge/infer", "edge/ota", "edge/device", "edge/greengrass",
	} {
		if !strings.Contains(out, "ok  \tdefect-qc/"+pkg+"\t") {
			t.Errorf("package %s did not pass tests", pkg)
		}
	}
}

// With Kubernetes as the infrastructure the training job is a CronJob and
// the devices run a k3s DaemonSet, and their tests pass.
func TestDefectKubernetesConfigsPassTheirTests(t *testing.T) {
	dir := t.TempDir()
	params := map[string]string{"infra": "kubernetes", "retraining": "daily", "images": "200"}
	writeDefectTree(t, dir, params, "qc-scaffold", "training-infra", "edge-deployment")
	for _, gone := range []string{"training/sagemaker", "edge/greengrass"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
			t.Errorf("a Kubernetes plan wrote %s (%v)", gone, err)
		}
	}
	out, _ := goCmd(t, dir, nil, "test", "-count=1", "./training/kubernetes", "./edge/k3s")
	for _, pkg := range []string{"training/kubernetes", "edge/k3s"} {
		if !strings.Contains(out, "ok  \tdefect-qc/"+pkg+"\t") {
			t.Errorf("%s was not tested:\n%s", pkg, out)
		}
	}
}

func TestEveryDefectSkillIsDeterministic(t *testing.T) {
	// The fewest frames keep the skills that train quick.
	params := map[string]string{"images": "200"}
	for _, s := range defectSkills {
		a, b := runDefectSkill(t, s, params), runDefectSkill(t, s, params)
		if a.Summary != b.Summary || len(a.Files) != len(b.Files) {
			t.Fatalf("skill %s: two runs differ", s.name)
		}
		for i := range a.Files {
			if a.Files[i].Path != b.Files[i].Path || !bytes.Equal(a.Files[i].Data, b.Files[i].Data) {
				t.Fatalf("skill %s: %s differs between runs", s.name, a.Files[i].Path)
			}
		}
	}
}

func TestBadDefectParamsAreNamed(t *testing.T) {
	for _, tc := range []struct{ param, value string }{
		{"images", "10"}, {"images", "lots"}, {"volume", "many"}, {"latency_ms", "0"},
		{"retraining", "hourly"}, {"infra", "gcp"}, {"module", "bad module"}, {"seed", "-1"}, {"rows", "100"},
	} {
		_, err := defectSkillNamed(t, "qc-scaffold").run(context.Background(), &specialists.Request{Job: "j", Task: "t",
			Params: map[string]string{tc.param: tc.value}})
		if err == nil || !specialists.IsPermanent(err) || !strings.Contains(err.Error(), tc.param) {
			t.Errorf("%s=%q: err = %v, want a permanent error naming the param", tc.param, tc.value, err)
		}
	}
}
