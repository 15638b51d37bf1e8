// Package diag owns the diagnostic skills of the role specialists.RoleDiag:
// skills that do nothing useful on purpose, so that tests and benchmarks
// can exercise the queue, the workers and the retry paths without paying
// for real work.
//
//	reg := specialists.NewRegistry()
//	diag.Register(reg)
//	// a subtask {Role: "diag", Skill: "fail", Params: {"until_attempt": "3"}}
//	// now fails twice and succeeds on its third delivery.
package diag

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// The skill names of the diag role.
const (
	SkillNoop          = "noop"
	SkillSleep         = "sleep"
	SkillFail          = "fail"
	SkillFailPermanent = "fail-permanent"
)

// Register adds the diag skills to r.
func Register(r *specialists.Registry) {
	r.Register(specialists.RoleDiag, SkillNoop, noop)
	r.Register(specialists.RoleDiag, SkillSleep, sleep)
	r.Register(specialists.RoleDiag, SkillFail, fail)
	r.Register(specialists.RoleDiag, SkillFailPermanent, failPermanent)
}

// noop writes diag/<task>.txt and nothing else. It runs tens of thousands
// of times in benchmarks, so it avoids fmt and allocates one buffer.
func noop(_ context.Context, req *specialists.Request) (*specialists.Result, error) {
	if err := checkParams(SkillNoop, req.Params); err != nil {
		return nil, err
	}
	return done(req, "noop"), nil
}

// sleep waits for its duration param, or until the execution is cancelled,
// to stand in for a long task (heartbeats, timeouts, shutdown).
func sleep(ctx context.Context, req *specialists.Request) (*specialists.Result, error) {
	if err := checkParams(SkillSleep, req.Params, "duration"); err != nil {
		return nil, err
	}
	raw, ok := req.Params["duration"]
	if !ok {
		return nil, specialists.Permanent(errors.New("diag sleep: missing param duration (a Go duration such as 250ms)"))
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < 0 {
		return nil, specialists.Permanent(fmt.Errorf("diag sleep: param duration=%q is not a non-negative Go duration such as 250ms", raw))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
	}
	return done(req, "slept "+d.String()), nil
}

// fail fails until the delivery numbered until_attempt, so that tests can
// watch a task being retried and then succeed, or, with permanent=true, go
// to the dead letters at once.
func fail(_ context.Context, req *specialists.Request) (*specialists.Result, error) {
	if err := checkParams(SkillFail, req.Params, "until_attempt", "permanent"); err != nil {
		return nil, err
	}
	raw, ok := req.Params["until_attempt"]
	if !ok {
		return nil, specialists.Permanent(errors.New("diag fail: missing param until_attempt (an integer >= 1)"))
	}
	until, err := strconv.Atoi(raw)
	if err != nil || until < 1 {
		return nil, specialists.Permanent(fmt.Errorf("diag fail: param until_attempt=%q is not an integer >= 1", raw))
	}
	permanent := false
	if raw, ok := req.Params["permanent"]; ok {
		if permanent, err = strconv.ParseBool(raw); err != nil {
			return nil, specialists.Permanent(fmt.Errorf("diag fail: param permanent=%q is not true or false", raw))
		}
	}
	if req.Attempt < until {
		err := fmt.Errorf("diag fail: attempt %d of until_attempt %d", req.Attempt, until)
		if permanent {
			return nil, specialists.Permanent(err)
		}
		return nil, err
	}
	return done(req, "succeeded on attempt "+strconv.Itoa(req.Attempt)), nil
}

// failPermanent stands in for a task with bad input.
func failPermanent(_ context.Context, req *specialists.Request) (*specialists.Result, error) {
	if err := checkParams(SkillFailPermanent, req.Params); err != nil {
		return nil, err
	}
	return nil, specialists.Permanent(fmt.Errorf("diag fail-permanent: task %s always fails", req.Task))
}

// done is the result every succeeding diag skill returns: one small file
// whose content depends only on the job and the task, so that redelivered
// tasks write identical artifacts.
func done(req *specialists.Request, summary string) *specialists.Result {
	data := make([]byte, 0, len(req.Job)+len(req.Task)+2)
	data = append(data, req.Job...)
	data = append(data, ' ')
	data = append(data, req.Task...)
	data = append(data, '\n')
	return &specialists.Result{
		Files:   []artifacts.File{{Path: "diag/" + req.Task + ".txt", Data: data}},
		Summary: summary,
	}
}

// checkParams refuses params the skill does not know: a typo such as
// "until_atempt" would otherwise make a test pass for the wrong reason.
func checkParams(skill string, params map[string]string, known ...string) error {
	var unknown []string
	for k := range params {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	accepted := "none"
	if len(known) > 0 {
		accepted = strings.Join(known, ", ")
	}
	return specialists.Permanent(fmt.Errorf("diag %s: unknown param %s (accepted: %s)", skill, strings.Join(unknown, ", "), accepted))
}
