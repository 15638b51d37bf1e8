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
	"github.com/orchestrate-dev/orchestrate/collector"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// smallData keeps the skills that train quick: a sample of synthetic
// customers.
var smallData = map[string]string{"rows": "1500"}

// runSkill runs one churn skill through a registry, as a worker would.
func runSkill(t *testing.T, s churnSkill, params map[string]string) *specialists.Result {
	t.Helper()
	return runRegistered(t, s.role, s.name, params)
}

// runRegistered runs the skill registered as role/name, as a worker would.
func runRegistered(t *testing.T, role, name string, params map[string]string) *specialists.Result {
	t.Helper()
	reg := specialists.NewRegistry()
	Register(reg)
	fn, err := reg.Lookup(role, name)
	if err != nil {
		t.Fatal(err)
	}
	req := &specialists.Request{Job: "job-1", Task: name, Role: role, Skill: name, Attempt: 1,
		Params: params, ScratchRoot: t.TempDir()}
	res, err := fn(context.Background(), req)
	if err != nil {
		t.Fatalf("skill %s/%s: %v", role, name, err)
	}
	if err := req.Cleanup(); err != nil {
		t.Fatal(err)
	}
	return res
}

// paramsFor are the params a plan gives skill s, for the tests: plan
// params plus the small data set for the skills that read data.
func paramsFor(s churnSkill, plan map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range plan {
		out[k] = v
	}
	if s.data {
		for k, v := range smallData {
			out[k] = v
		}
	}
	return out
}

// writeTree writes the files of every churn skill into dir.
func writeTree(t *testing.T, dir string, plan map[string]string) {
	t.Helper()
	owner := map[string]string{}
	for _, s := range churnSkills {
		res := runSkill(t, s, paramsFor(s, plan))
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
func goCmd(t *testing.T, dir string, env map[string]string, args ...string) (string, time.Duration) {
	t.Helper()
	caches := collector.DefaultRunOptions()
	if caches.GoCache == "" || caches.GoModCache == "" {
		t.Fatal("go env reports no GOCACHE or GOMODCACHE")
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"GOCACHE=" + caches.GoCache,
		"GOMODCACHE=" + caches.GoModCache,
		"GOFLAGS=-mod=readonly",
		"GOPROXY=off",
		"GOTOOLCHAIN=local",
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("go %s in the generated project failed after %v: %v\n%s", strings.Join(args, " "), took, err, out)
	}
	return string(out), took
}

// The generated project builds offline with the go.mod and go.sum the
// scaffold writes (-mod=readonly: nothing may be added), and its own
// tests pass, the online store's against a real Redis.
func TestGeneratedChurnProjectPassesItsOwnTests(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, nil)
	r := testenv.StartRedis(t)
	env := map[string]string{collector.EnvRedisURL: r.URL, collector.EnvRedisPrefix: r.Prefix + "generated:"}
	goCmd(t, dir, env, "vet", "./...")
	out, took := goCmd(t, dir, env, "test", "-count=1", "./...")
	t.Logf("go test ./... of the generated project took %v:\n%s", took.Round(time.Millisecond), out)
	for _, pkg := range []string{
		"feature-engineering/pipelines", "feature-engineering/feature_store", "models/training",
		"models/evaluation", "models/serving", "models/serving/abtest", "infrastructure/monitoring/model_monitor",
		"infrastructure/monitoring/dashboards", "infrastructure/retraining", "infrastructure/sagemaker",
		"tests/unit", "tests/load", "tests/integration",
	} {
		if !strings.Contains(out, "ok  \tml-system/"+pkg+"\t") {
			t.Errorf("package %s did not pass tests", pkg)
		}
	}
	keys, err := r.Client(t).Keys(context.Background(), r.Prefix+"generated:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("the generated tests left %d keys in Redis: %v", len(keys), keys)
	}
}

// With Kubernetes as the infrastructure the deployment skill writes
// manifests instead of SageMaker configs, and their tests pass.
func TestKubernetesDeploymentPassesItsTests(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"scaffold", "deployment"} {
		s := skillNamed(t, name)
		res := runSkill(t, s, map[string]string{"infra": "kubernetes", "retraining": "daily"})
		writeFiles(t, dir, s.name, res.Files, map[string]string{})
	}
	if _, err := os.Stat(filepath.Join(dir, "infrastructure", "sagemaker")); !os.IsNotExist(err) {
		t.Errorf("a Kubernetes deployment wrote SageMaker configs (%v)", err)
	}
	out, _ := goCmd(t, dir, nil, "test", "-count=1", "./infrastructure/...")
	if !strings.Contains(out, "ok  \tml-system/infrastructure/kubernetes\t") {
		t.Errorf("the Kubernetes manifests were not tested:\n%s", out)
	}
}

func TestEverySkillIsDeterministic(t *testing.T) {
	for _, s := range churnSkills {
		a, b := runSkill(t, s, paramsFor(s, nil)), runSkill(t, s, paramsFor(s, nil))
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
		specialists.RoleMLArchitect:    "cnn-model,drift-monitoring,qc-scaffold,retraining,scaffold",
		specialists.RoleDataPipeline:   "feature-store,features,image-pipeline",
		specialists.RoleDataScience:    "model-evaluation,train-models,training-infra",
		specialists.RoleBackend:        "ab-testing,load-test,serving",
		specialists.RoleCloudArchitect: "dashboards,deployment,edge-deployment",
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
	for range 3 {
		for _, s := range churnSkills {
			if s.data {
				continue // they train; TestEverySkillIsDeterministic runs them
			}
			wg.Go(func() {
				if _, err := s.run(context.Background(), &specialists.Request{Job: "j", Task: s.name}); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
}
