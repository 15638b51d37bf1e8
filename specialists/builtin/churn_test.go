package builtin

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// runSkill runs one churn skill through a registry, as a worker would.
func runSkill(t *testing.T, s churnSkill, params map[string]string) *specialists.Result {
	t.Helper()
	reg := specialists.NewRegistry()
	Register(reg)
	fn, err := reg.Lookup(s.role, s.name)
	if err != nil {
		t.Fatal(err)
	}
	res, err := fn(context.Background(), &specialists.Request{
		Job: "job-1", Task: s.name, Role: s.role, Skill: s.name, Attempt: 1, Params: params,
	})
	if err != nil {
		t.Fatalf("skill %s/%s: %v", s.role, s.name, err)
	}
	return res
}

// writeTree writes the files of every churn skill, run with default
// params, into dir.
func writeTree(t *testing.T, dir string) {
	t.Helper()
	owner := map[string]string{}
	for _, s := range churnSkills {
		res := runSkill(t, s, nil)
		if len(res.Files) == 0 || res.Summary == "" {
			t.Fatalf("skill %s: %d files, summary %q", s.name, len(res.Files), res.Summary)
		}
		writeFiles(t, dir, s.name, res.Files, owner)
	}
}

// writeFiles writes the files of one skill into dir, failing on an invalid
// path or on two skills claiming one path, as the artifact store would.
func writeFiles(t *testing.T, dir, skill string, files []artifacts.File, owner map[string]string) {
	t.Helper()
	for _, f := range files {
		if err := artifacts.ValidatePath(f.Path); err != nil {
			t.Fatalf("skill %s: %v", skill, err)
		}
		if other, ok := owner[f.Path]; ok {
			t.Fatalf("skills %s and %s both write %s", other, skill, f.Path)
		}
		owner[f.Path] = skill
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// goCmd runs the go command in dir with an environment scrubbed of the
// developer's settings and without network, as the collector runs a tree.
func goCmd(t *testing.T, dir string, args ...string) (string, time.Duration) {
	t.Helper()
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOCACHE: %v", err)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"GOCACHE=" + strings.TrimSpace(string(gocache)),
		"GOFLAGS=-mod=mod",
		"GOPROXY=off",
		"GOTOOLCHAIN=local",
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("go %s in the generated project failed after %v: %v\n%s", strings.Join(args, " "), took, err, out)
	}
	return string(out), took
}

func TestGeneratedChurnProjectPassesItsOwnTests(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir)
	goCmd(t, dir, "vet", "./...")
	// -count=1: the shared build cache must not answer for tests that never ran here.
	out, took := goCmd(t, dir, "test", "-count=1", "./...")
	t.Logf("go test ./... of the generated project took %v:\n%s", took.Round(time.Millisecond), out)
	for _, pkg := range []string{
		"feature-engineering/pipelines", "feature-engineering/feature_store", "models/training",
		"models/evaluation", "models/serving", "infrastructure/monitoring", "infrastructure/sagemaker",
		"tests/load", "tests/integration",
	} {
		if !strings.Contains(out, "ok  \tml-system/"+pkg) {
			t.Errorf("package %s did not run tests", pkg)
		}
	}
}

func TestEverySkillIsDeterministic(t *testing.T) {
	for _, s := range churnSkills {
		a, b := runSkill(t, s, nil), runSkill(t, s, nil)
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

func TestRegisterAddsEachSkillToItsRole(t *testing.T) {
	reg := specialists.NewRegistry()
	Register(reg)
	want := map[string]string{
		specialists.RoleMLArchitect:    "monitoring,scaffold",
		specialists.RoleDataPipeline:   "feature-store,features",
		specialists.RoleDataScience:    "baseline-model",
		specialists.RoleBackend:        "load-test,serving",
		specialists.RoleCloudArchitect: "sagemaker",
	}
	for role, skills := range want {
		if got := strings.Join(reg.Skills(role), ","); got != skills {
			t.Errorf("role %s: skills %s, want %s", role, got, skills)
		}
	}
	if len(reg.Roles()) != len(want) {
		t.Errorf("roles %v, want %d", reg.Roles(), len(want))
	}
}

// Workers run skills concurrently; the lazily parsed templates are shared.
func TestSkillsAreSafeForConcurrentUse(t *testing.T) {
	var wg sync.WaitGroup
	for range 4 {
		for _, s := range churnSkills {
			wg.Go(func() {
				if _, err := s.run(context.Background(), &specialists.Request{Job: "j", Task: s.name}); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
}
