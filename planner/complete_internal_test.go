package planner

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchestrate-dev/orchestrate/internal/testenv"
)

func internalPlan(ids ...string) *Plan {
	var subs []Subtask
	for _, id := range ids {
		subs = append(subs, Subtask{ID: id, Role: "diag", Skill: "noop"})
	}
	return &Plan{Name: "p", Phases: []Phase{{Name: "all", Subtasks: subs}}}
}

// Both ways of completing — batched (a single Redis node) and one script
// per task (Redis Cluster) — give the same results, errors included.
func TestBatchedAndSingleCompletionsAgree(t *testing.T) {
	for _, batched := range []bool{true, false} {
		t.Run(fmt.Sprintf("batched=%v", batched), func(t *testing.T) {
			ctx := context.Background()
			r := testenv.StartRedis(t)
			l := NewLedger(r.Client(t), r.Prefix)
			if !batched {
				l.completions = nil
			}
			var ids []string
			for i := range 20 {
				ids = append(ids, fmt.Sprintf("t%d", i))
			}
			job := NewJobID("p")
			tasks, deps := Tasks(job, internalPlan(ids...))
			if err := l.Create(ctx, job, internalPlan(ids...), tasks, deps, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Dead(ctx, job, "t0", "boom", Run{}); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make([]error, len(ids))
			for i, id := range ids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = l.Complete(ctx, job, id, "", CompleteOptions{Run: Run{Worker: "w", Started: time.Now(), Attempts: 1}})
				}()
			}
			wg.Wait()
			if errs[0] == nil || !strings.Contains(errs[0].Error(), "task is dead") {
				t.Errorf("completing a dead task: %v", errs[0])
			}
			for i, err := range errs[1:] {
				if err != nil {
					t.Errorf("task t%d: %v", i+1, err)
				}
			}
			js, _ := l.JobSummary(ctx, job)
			if js.Succeeded != len(ids)-1 {
				t.Errorf("%d succeeded, want %d", js.Succeeded, len(ids)-1)
			}
		})
	}
}
