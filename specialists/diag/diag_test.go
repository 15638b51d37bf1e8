package diag

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/orchestrate-dev/orchestrate/specialists"
)

func run(t *testing.T, ctx context.Context, skill string, req *specialists.Request) (*specialists.Result, error) {
	t.Helper()
	reg := specialists.NewRegistry()
	Register(reg)
	fn, err := reg.Lookup(specialists.RoleDiag, skill)
	if err != nil {
		t.Fatal(err)
	}
	req.Role, req.Skill = specialists.RoleDiag, skill
	return fn(ctx, req)
}

func wantDiagFile(t *testing.T, res *specialists.Result, job, task string) {
	t.Helper()
	if res == nil || len(res.Files) != 1 {
		t.Fatalf("want one file, got %+v", res)
	}
	f := res.Files[0]
	if f.Path != "diag/"+task+".txt" || string(f.Data) != job+" "+task+"\n" {
		t.Fatalf("got file %q = %q", f.Path, f.Data)
	}
}

func TestRegisterAddsEveryDiagSkill(t *testing.T) {
	reg := specialists.NewRegistry()
	Register(reg)
	got := strings.Join(reg.Skills(specialists.RoleDiag), ",")
	if want := "fail,fail-permanent,noop,sleep"; got != want {
		t.Fatalf("skills = %s, want %s", got, want)
	}
}

func TestNoopWritesOneDeterministicFile(t *testing.T) {
	for i := 0; i < 2; i++ {
		res, err := run(t, t.Context(), SkillNoop, &specialists.Request{Job: "j1", Task: "t-7", Attempt: 1})
		if err != nil {
			t.Fatal(err)
		}
		wantDiagFile(t, res, "j1", "t-7")
	}
}

func TestUnknownParamsArePermanentAndNamed(t *testing.T) {
	for _, skill := range []string{SkillNoop, SkillSleep, SkillFail, SkillFailPermanent} {
		t.Run(skill, func(t *testing.T) {
			_, err := run(t, t.Context(), skill, &specialists.Request{Job: "j", Task: "t", Attempt: 1,
				Params: map[string]string{"until_atempt": "2"}})
			if !specialists.IsPermanent(err) || !strings.Contains(err.Error(), "until_atempt") {
				t.Fatalf("err = %v, want a permanent error naming until_atempt", err)
			}
		})
	}
}

func TestSleepWaitsThenWrites(t *testing.T) {
	start := time.Now()
	res, err := run(t, t.Context(), SkillSleep, &specialists.Request{Job: "j", Task: "s", Attempt: 1,
		Params: map[string]string{"duration": "20ms"}})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 20*time.Millisecond {
		t.Fatalf("returned after %v, want >= 20ms", el)
	}
	wantDiagFile(t, res, "j", "s")
}

func TestSleepStopsWhenTheContextIsDone(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := run(t, ctx, SkillSleep, &specialists.Request{Job: "j", Task: "s", Attempt: 1,
		Params: map[string]string{"duration": "1h"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("took %v to notice cancellation", el)
	}
}

func TestSleepRejectsBadDurations(t *testing.T) {
	for name, params := range map[string]map[string]string{
		"missing":  nil,
		"garbage":  {"duration": "soon"},
		"negative": {"duration": "-1s"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := run(t, t.Context(), SkillSleep, &specialists.Request{Job: "j", Task: "s", Attempt: 1, Params: params})
			if !specialists.IsPermanent(err) || !strings.Contains(err.Error(), "duration") {
				t.Fatalf("err = %v, want a permanent error naming duration", err)
			}
			if v := params["duration"]; v != "" && !strings.Contains(err.Error(), v) {
				t.Fatalf("err = %v, want it to quote %q", err, v)
			}
		})
	}
}

func TestFailFailsTransientlyUntilTheAttempt(t *testing.T) {
	params := map[string]string{"until_attempt": "3"}
	for attempt := 1; attempt <= 4; attempt++ {
		res, err := run(t, t.Context(), SkillFail, &specialists.Request{Job: "j", Task: "f", Attempt: attempt, Params: params})
		if attempt < 3 {
			if err == nil || specialists.IsPermanent(err) {
				t.Fatalf("attempt %d: err = %v, want a transient error", attempt, err)
			}
			if want := fmt.Sprintf("diag fail: attempt %d of until_attempt 3", attempt); err.Error() != want {
				t.Fatalf("attempt %d: err = %q, want %q", attempt, err, want)
			}
			continue
		}
		if err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		wantDiagFile(t, res, "j", "f")
	}
}

func TestFailWithPermanentTrueFailsForGood(t *testing.T) {
	_, err := run(t, t.Context(), SkillFail, &specialists.Request{Job: "j", Task: "f", Attempt: 1,
		Params: map[string]string{"until_attempt": "2", "permanent": "true"}})
	if !specialists.IsPermanent(err) || !strings.Contains(err.Error(), "attempt 1 of until_attempt 2") {
		t.Fatalf("err = %v, want a permanent attempt error", err)
	}
}

func TestFailRejectsBadParams(t *testing.T) {
	for name, tc := range map[string]struct {
		params map[string]string
		names  string
	}{
		"missing until_attempt": {nil, "until_attempt"},
		"zero until_attempt":    {map[string]string{"until_attempt": "0"}, "until_attempt"},
		"word until_attempt":    {map[string]string{"until_attempt": "two"}, "two"},
		"bad permanent":         {map[string]string{"until_attempt": "1", "permanent": "maybe"}, "permanent"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := run(t, t.Context(), SkillFail, &specialists.Request{Job: "j", Task: "f", Attempt: 1, Params: tc.params})
			if !specialists.IsPermanent(err) || !strings.Contains(err.Error(), tc.names) {
				t.Fatalf("err = %v, want a permanent error naming %s", err, tc.names)
			}
		})
	}
}

func TestFailPermanentAlwaysFailsForGood(t *testing.T) {
	for attempt := 1; attempt <= 3; attempt++ {
		_, err := run(t, t.Context(), SkillFailPermanent, &specialists.Request{Job: "j", Task: "x", Attempt: attempt})
		if !specialists.IsPermanent(err) {
			t.Fatalf("attempt %d: err = %v, want permanent", attempt, err)
		}
	}
}

func BenchmarkNoop(b *testing.B) {
	req := &specialists.Request{Job: "bench", Task: "task-00001", Attempt: 1}
	ctx := context.Background()
	for b.Loop() {
		if _, err := noop(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
