package builtin

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/specialists"
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
	scaffold := runSkill(t, skillNamed(t, "scaffold"), map[string]string{
		"module": "example.com/acme/churn", "latency_ms": "250", "retraining": "Daily", "volume": "50K",
	})
	if got := file(t, scaffold.Files, "go.mod"); got != "module example.com/acme/churn\n\ngo 1.26\n" {
		t.Errorf("go.mod = %q", got)
	}
	arch := file(t, scaffold.Files, "ARCHITECTURE.md")
	for _, want := range []string{"250 ms", "daily", "cron(0 3 * * ? *)", "50K customers (50000)", "ml.m5.large"} {
		if !strings.Contains(arch, want) {
			t.Errorf("ARCHITECTURE.md does not mention %q", want)
		}
	}
	load := runSkill(t, skillNamed(t, "load-test"), map[string]string{"module": "example.com/acme/churn", "latency_ms": "250"})
	if got := file(t, load.Files, "tests/load/budget.go"); !strings.Contains(got, "const LatencyBudget = 250 * time.Millisecond") {
		t.Errorf("budget.go:\n%s", got)
	}
	if got := file(t, load.Files, "tests/load/load_test.go"); !strings.Contains(got, `"example.com/acme/churn/models/serving"`) {
		t.Errorf("load_test.go does not import the module's serving package")
	}
}

func TestSageMakerIsSizedAndScheduledFromParams(t *testing.T) {
	for _, tc := range []struct{ volume, retraining, instance, schedule string }{
		{"100K", "weekly", "ml.m5.large", "cron(0 3 ? * SUN *)"},
		{"1M", "daily", "ml.m5.xlarge", "cron(0 3 * * ? *)"},
		{"1000001", "monthly", "ml.m5.4xlarge", "cron(0 3 1 * ? *)"},
		{"2.5M", "weekly", "ml.m5.4xlarge", "cron(0 3 ? * SUN *)"},
	} {
		res := runSkill(t, skillNamed(t, "sagemaker"), map[string]string{"volume": tc.volume, "retraining": tc.retraining})
		ep, jobs := file(t, res.Files, "infrastructure/sagemaker/endpoints.yaml"), file(t, res.Files, "infrastructure/sagemaker/training_jobs.yaml")
		if strings.Count(ep, "InstanceType: "+tc.instance+"\n") != 2 || !strings.Contains(jobs, "InstanceType: "+tc.instance+"\n") {
			t.Errorf("volume %s: want instance type %s everywhere", tc.volume, tc.instance)
		}
		if !strings.Contains(jobs, `ScheduleExpression: "`+tc.schedule+`"`) {
			t.Errorf("retraining %s: want schedule %s in:\n%s", tc.retraining, tc.schedule, jobs)
		}
	}
}

func TestBadParamsArePermanentErrorsNamingTheParam(t *testing.T) {
	for _, tc := range []struct {
		skill  string
		params map[string]string
		name   string
	}{
		{"features", map[string]string{"module": "x"}, `"module"`},
		{"scaffold", map[string]string{"colour": "blue"}, `"colour"`},
		{"scaffold", map[string]string{"module": "bad module"}, "module"},
		{"scaffold", map[string]string{"module": "a//b"}, "module"},
		{"scaffold", map[string]string{"latency_ms": "100ms"}, "latency_ms"},
		{"scaffold", map[string]string{"latency_ms": "0"}, "latency_ms"},
		{"scaffold", map[string]string{"retraining": "hourly"}, "retraining"},
		{"scaffold", map[string]string{"volume": "lots"}, "volume"},
		{"scaffold", map[string]string{"infra": "gcp"}, "infra"},
		{"sagemaker", map[string]string{"volume": "0"}, "volume"},
	} {
		s := skillNamed(t, tc.skill)
		_, err := s.run(context.Background(), &specialists.Request{Job: "j", Task: tc.skill, Params: tc.params})
		if !specialists.IsPermanent(err) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s %v: err = %v, want a permanent error naming %s", tc.skill, tc.params, err, tc.name)
		}
	}
}

func TestParseVolume(t *testing.T) {
	for in, want := range map[string]int64{"250000": 250000, "100K": 100000, "1M": 1000000, "1.5m": 1500000, "2B": 2000000000, " 10 k ": 10000} {
		if got, err := ParseVolume(in); err != nil || got != want {
			t.Errorf("ParseVolume(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "1M customers", "-5", "0", "1e6", "0.1"} {
		if _, err := ParseVolume(in); err == nil {
			t.Errorf("ParseVolume(%q): want an error", in)
		}
	}
}

func TestCancelledContextStopsASkill(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := skillNamed(t, "features").run(ctx, &specialists.Request{Job: "j", Task: "t"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// A tree generated with other params must compile as well: a template that
// hard-codes the default module path would pass the default-params test.
func TestGeneratedProjectWithOtherParamsTypeChecks(t *testing.T) {
	params := map[string]string{
		"module": "example.com/acme/churn", "latency_ms": "250", "retraining": "daily", "volume": "50K", "infra": "aws",
	}
	dir := t.TempDir()
	for _, s := range churnSkills {
		own := map[string]string{}
		for _, p := range s.params {
			own[p] = params[p]
		}
		writeFiles(t, dir, s.name, runSkill(t, s, own).Files, map[string]string{})
	}
	goCmd(t, dir, "vet", "./...")
}
