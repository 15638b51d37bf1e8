package builtin

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/orchestrate-dev/orchestrate"
	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/features"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/tabular"
)

// skillNamed finds a churn skill by name.
func skillNamed(t *testing.T, name string) churnSkill {
	t.Helper()
	for _, s := range churnSkills {
		if s.name == name {
			return s
		}
	}
	t.Fatalf("no churn skill %s", name)
	return churnSkill{}
}

func file(t *testing.T, files []artifacts.File, path string) string {
	t.Helper()
	for _, f := range files {
		if f.Path == path {
			return string(f.Data)
		}
	}
	t.Fatalf("no file %s", path)
	return ""
}

func TestParamsReachTheGeneratedFiles(t *testing.T) {
	plan := map[string]string{"module": "example.com/acme/churn", "latency_ms": "250", "retraining": "Daily", "volume": "50K", "challenger_pct": "20"}
	scaffold := runSkill(t, skillNamed(t, "scaffold"), plan)
	if got := file(t, scaffold.Files, "go.mod"); !strings.HasPrefix(got, "module example.com/acme/churn\n") {
		t.Errorf("go.mod starts %q", got[:min(len(got), 60)])
	}
	arch := file(t, scaffold.Files, "ARCHITECTURE.md")
	for _, want := range []string{"250 ms", "daily", "50K", "ml.m5.large"} {
		if !strings.Contains(arch, want) {
			t.Errorf("ARCHITECTURE.md does not mention %q", want)
		}
	}
	load := runSkill(t, skillNamed(t, "load-test"), plan)
	var budget string
	for _, f := range load.Files {
		if strings.HasPrefix(f.Path, "tests/load/") && strings.Contains(string(f.Data), "250") {
			budget = f.Path
		}
	}
	if budget == "" {
		t.Errorf("no file of tests/load holds the 250 ms budget")
	}
	for _, f := range load.Files {
		if strings.HasSuffix(f.Path, ".go") && strings.Contains(string(f.Data), `"ml-system/`) {
			t.Errorf("%s imports ml-system/ instead of the module's path", f.Path)
		}
	}
	deploy := runSkill(t, skillNamed(t, "deployment"), plan)
	endpoints := file(t, deploy.Files, "infrastructure/sagemaker/endpoints.yaml")
	for _, want := range []string{"ml.m5.large", "80", "20"} {
		if !strings.Contains(endpoints, want) {
			t.Errorf("endpoints.yaml does not hold %q", want)
		}
	}
	if jobs := file(t, deploy.Files, "infrastructure/sagemaker/training_jobs.yaml"); !strings.Contains(jobs, "cron(0 3 * * ? *)") {
		t.Errorf("training_jobs.yaml does not schedule daily retraining:\n%s", jobs)
	}
}

func TestBadParamsAreNamed(t *testing.T) {
	for _, tc := range []struct{ skill, key, value string }{
		{"scaffold", "latency_ms", "fast"}, {"scaffold", "latency_ms", "0"}, {"scaffold", "retraining", "hourly"},
		{"scaffold", "volume", "lots"}, {"scaffold", "infra", "gcp"}, {"scaffold", "module", "bad module"},
		{"scaffold", "challenger_pct", "75"}, {"scaffold", "seed", "-1"}, {"scaffold", "target", `a"b`},
		{"scaffold", "rows", "100"}, // only the skills that read data take rows
		{"train-models", "rows", "10"}, {"train-models", "data", "not-a-digest"},
		{"train-models", "test", strings.Repeat("ab", 32)},
		{"train-models", "target", "Churned"}, // synthetic data labels Exited
	} {
		s := skillNamed(t, tc.skill)
		_, err := s.run(context.Background(), &specialists.Request{Job: "j", Task: s.name, Params: map[string]string{tc.key: tc.value}, ScratchRoot: t.TempDir()})
		if err == nil || !specialists.IsPermanent(err) || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s %s=%q: err = %v, want a permanent error naming %s", tc.skill, tc.key, tc.value, err, tc.key)
		}
	}
}

func TestVolumes(t *testing.T) {
	for in, want := range map[string]int64{"250000": 250000, "100K": 100000, "1M": 1000000, "1.5m": 1500000, "2B": 2000000000} {
		if got, err := ParseVolume(in); err != nil || got != want {
			t.Errorf("ParseVolume(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "0", "-5", "1T"} {
		if _, err := ParseVolume(in); err == nil {
			t.Errorf("ParseVolume(%q) accepted it", in)
		}
	}
}

// The job's data comes from the artifact store, where the run command put
// it, and the generated code follows its columns.
func TestDataFromTheStoreShapesTheGeneratedCode(t *testing.T) {
	r := testenv.StartRedis(t)
	store := artifacts.NewStore(r.Client(t), r.Prefix, artifacts.Limits{})
	var csv strings.Builder
	csv.WriteString("AccountId,Region,MonthlySpend,LoginsPerWeek,Churned\n")
	for i := range 400 {
		region := []string{"north", "south", "east"}[i%3]
		churned := "no"
		if i%4 == 0 || (i%7 == 0 && region == "south") {
			churned = "yes"
		}
		csv.WriteString(strings.Join([]string{itoa(100000 + i), region, itoa(20 + i%50), itoa(i % 9), churned}, ",") + "\n")
	}
	digest, err := store.Put(context.Background(), []byte(csv.String()))
	if err != nil {
		t.Fatal(err)
	}
	s := skillNamed(t, "features")
	req := &specialists.Request{Job: "j", Task: s.name, ScratchRoot: t.TempDir(), Artifacts: store,
		Params: map[string]string{"data": digest, "data_name": "accounts.csv", "target": "Churned", "positive": "yes"}}
	res, err := s.run(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	schema := file(t, res.Files, "feature-engineering/pipelines/schema.go")
	for _, want := range []string{`const IDColumn = "AccountId"`, `const Target = "Churned"`} {
		if !strings.Contains(schema, want) {
			t.Errorf("schema.go lacks %s:\n%s", want, schema)
		}
	}
	for path, want := range map[string]string{
		"feature-engineering/pipelines/user_features.go":        `{Name: "Region", Kind: Categorical}`,
		"feature-engineering/pipelines/transaction_features.go": `{Name: "MonthlySpend", Kind: Numeric}`,
		"feature-engineering/pipelines/engagement_features.go":  `{Name: "LoginsPerWeek", Kind: Numeric}`,
	} {
		if got := file(t, res.Files, path); !strings.Contains(got, want) {
			t.Errorf("%s lacks %s:\n%s", path, want, got)
		}
	}

	req.Params["data"] = strings.Repeat("0", 64)
	_, err = s.run(context.Background(), req)
	if !errors.Is(err, artifacts.ErrNotFound) {
		t.Errorf("data not in the store: err = %v, want ErrNotFound", err)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestSchemaGroupsColumnsByName(t *testing.T) {
	p := &features.Pipeline{Inputs: []features.Input{
		{Name: "Age", Kind: tabular.Numeric}, {Name: "Gender", Kind: tabular.Categorical},
		{Name: "Balance", Kind: tabular.Numeric}, {Name: "HasCrCard", Kind: tabular.Boolean},
		{Name: "Tenure", Kind: tabular.Numeric}, {Name: "IsActiveMember", Kind: tabular.Boolean},
		{Name: "DaysSinceLastLogin", Kind: tabular.Numeric}, {Name: "MonthlyCharges", Kind: tabular.Numeric},
	}}
	s := buildSchema(p, []string{"RowNumber", "CustomerId", "Surname"})
	got := map[string]string{}
	for _, g := range s.Groups {
		for _, c := range g.Columns {
			got[c.Name] = g.Name
		}
	}
	want := map[string]string{
		"Age": "user", "Gender": "user", "Balance": "transaction", "HasCrCard": "transaction",
		"Tenure": "engagement", "IsActiveMember": "engagement", "DaysSinceLastLogin": "engagement", "MonthlyCharges": "transaction",
	}
	for col, g := range want {
		if got[col] != g {
			t.Errorf("%s is in the %q group, want %s", col, got[col], g)
		}
	}
	if s.IDColumn != "CustomerId" {
		t.Errorf("id column %q, want CustomerId", s.IDColumn)
	}
	if s := buildSchema(p, []string{"RowNumber"}); s.IDColumn != "" {
		t.Errorf("id column %q from RowNumber alone, want none", s.IDColumn)
	}
}

func TestGoModKeepsTheOrchestratorsVersions(t *testing.T) {
	files := goModFiles("example.com/churn")
	mod, sum := string(files[0].Data), string(files[1].Data)
	if !strings.HasPrefix(mod, "module example.com/churn\n") {
		t.Errorf("go.mod starts %q", mod[:40])
	}
	for _, want := range []string{"github.com/advancedclimatesystems/gonnx v", "github.com/redis/go-redis/v9 v", "gopkg.in/yaml.v3 v"} {
		line := want[:strings.Index(want, " ")]
		if !strings.Contains(mod, want) || !strings.Contains(string(orchestrate.GoMod), requireLine(mod, line)) {
			t.Errorf("go.mod does not require %s at the orchestrator's version", line)
		}
	}
	for _, gone := range []string{"nats-io", "spf13/cobra", "go.uber.org/zap", "miniredis"} {
		if strings.Contains(mod, gone) {
			t.Errorf("go.mod requires %s, which only the orchestrator uses", gone)
		}
	}
	if sum != string(orchestrate.GoSum) {
		t.Error("go.sum is not the orchestrator's")
	}
}

// requireLine returns the line of mod that requires module path.
func requireLine(mod, path string) string {
	for _, l := range strings.Split(mod, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), path+" ") {
			return strings.TrimSpace(l)
		}
	}
	return "\x00missing"
}
