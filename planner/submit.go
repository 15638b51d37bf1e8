package planner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/orchestrate-dev/orchestrate/broker"
)

// Submitter turns a validated plan into a job: the ledger entries and the
// publication of the root subtasks. It may run on any node.
type Submitter struct {
	Ledger *Ledger
	Broker *broker.Broker
	Skills Skills
}

// Submit validates p, creates a job for it and publishes the subtasks that
// wait for nothing. It returns the job id.
func (s *Submitter) Submit(ctx context.Context, p *Plan) (string, error) {
	if err := p.Validate(s.Skills); err != nil {
		return "", err
	}
	job := NewJobID(p.Name)
	tasks, deps := Tasks(job, p)
	_ = s.Broker.PublishEvent(broker.Event{Job: job, Kind: broker.EventJobCreated, Summary: p.Goal})
	// Each part of the job is published as soon as it is written, and
	// JetStream's acks are awaited once at the end, so that writing and
	// storing overlap for large jobs.
	var pub broker.Publication
	err := s.Ledger.Create(ctx, job, p, tasks, deps, func(roots []*broker.Task) error {
		if err := pub.Add(s.Broker, roots); err != nil {
			return fmt.Errorf("publish tasks of job %s: %w", job, err)
		}
		for _, t := range roots {
			_ = s.Broker.PublishEvent(broker.Event{Job: job, Task: t.ID, Role: t.Role, Kind: broker.EventQueued})
		}
		return nil
	})
	if err == nil {
		if err = pub.Wait(ctx); err != nil {
			err = fmt.Errorf("publish tasks of job %s: %w", job, err)
			s.Ledger.Fail(context.WithoutCancel(ctx), job, err)
		}
	}
	if err != nil {
		return job, err
	}
	return job, nil
}

// Release publishes ready tasks, waits until JetStream stored them, then
// marks them queued in the ledger. Publishing twice is harmless: the
// de-duplication id drops the second copy.
func Release(ctx context.Context, b *broker.Broker, l *Ledger, job string, ready []*broker.Task) error {
	if len(ready) == 0 {
		return nil
	}
	if err := b.PublishTasks(ctx, ready); err != nil {
		return fmt.Errorf("release tasks of job %s: %w", job, err)
	}
	ids := make([]string, len(ready))
	for i, t := range ready {
		ids[i] = t.ID
		_ = b.PublishEvent(broker.Event{Job: job, Task: t.ID, Role: t.Role, Kind: broker.EventQueued})
	}
	return l.MarkQueued(ctx, job, ids)
}

// Tasks builds the task messages of a plan and the dependencies by id.
func Tasks(job string, p *Plan) ([]*broker.Task, map[string][]string) {
	var tasks []*broker.Task
	deps := map[string][]string{}
	for _, st := range p.Subtasks() {
		prio := st.Priority
		if prio == "" {
			prio = broker.Normal
		}
		tasks = append(tasks, &broker.Task{
			Version: broker.TaskVersion, Job: job, ID: st.ID, Role: st.Role, Skill: st.Skill,
			Title: st.Title, Instructions: st.Instructions, Params: st.Params,
			Inputs: st.DependsOn, Priority: prio, Timeout: st.Timeout,
		})
		if len(st.DependsOn) > 0 {
			deps[st.ID] = st.DependsOn
		}
	}
	return tasks, deps
}

// NewJobID returns a readable, unique, time-ordered job id such as
// "ml-churn-system-20261126t010203-3fa9c1".
func NewJobID(name string) string {
	slug := Slug(name)
	if len(slug) > 40 {
		slug = strings.TrimRight(slug[:40], "-")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%s-%s", slug, strings.ToLower(time.Now().UTC().Format("20060102t150405")), hex.EncodeToString(b))
}

// Replay puts a dead task of a job back on its queue: a new generation
// in the ledger (see Ledger.Replay), then its publication.
func (s *Submitter) Replay(ctx context.Context, job, task string) (ReplayResult, error) {
	res, err := s.Ledger.Replay(ctx, job, task)
	if err != nil {
		return res, err
	}
	if err := Release(ctx, s.Broker, s.Ledger, job, []*broker.Task{res.Task}); err != nil {
		return res, err
	}
	return res, nil
}
