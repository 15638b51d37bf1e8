// Package coalesce merges the Redis pipelines of concurrent callers into
// fewer round trips. Agents of a pool each send two small pipelines per
// task; sent one by one, their system calls on both ends of the connection
// cost more than the commands. Coalesced, one write and one read carry the
// work of many agents.
package coalesce

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Pipeliner sends pipelines, coalescing those that arrive while others are
// in flight. It runs no goroutine of its own: a caller that finds a free
// slot sends the pending pipelines, its own among them, and keeps sending
// until none are left, so no request is ever stranded.
type Pipeliner struct {
	rdb      redis.UniversalClient
	slots    int // pipelines in flight at most
	maxBatch int // requests per pipeline at most

	mu       sync.Mutex
	pending  []*request
	inflight int
}

type request struct {
	build func(redis.Pipeliner)
	done  chan struct{}
}

// New returns a Pipeliner with up to slots pipelines in flight (zero means
// 4) of up to maxBatch callers each (zero means 256).
func New(rdb redis.UniversalClient, slots, maxBatch int) *Pipeliner {
	if slots <= 0 {
		slots = 4
	}
	if maxBatch <= 0 {
		maxBatch = 256
	}
	return &Pipeliner{rdb: rdb, slots: slots, maxBatch: maxBatch}
}

// Do queues build's commands and returns once they ran. The caller reads
// the results and errors from its own commands: a failure of the round
// trip is set on every command in it. Do ignores ctx's cancellation once
// the commands are queued, since they may already be on the wire.
func (p *Pipeliner) Do(ctx context.Context, build func(redis.Pipeliner)) {
	r := &request{build: build, done: make(chan struct{})}
	p.mu.Lock()
	p.pending = append(p.pending, r)
	if p.inflight >= p.slots {
		p.mu.Unlock()
		<-r.done
		return
	}
	p.inflight++
	for len(p.pending) > 0 {
		n := min(len(p.pending), p.maxBatch)
		batch := p.pending[:n:n]
		p.pending = p.pending[n:]
		p.mu.Unlock()
		p.send(context.WithoutCancel(ctx), batch)
		p.mu.Lock()
	}
	p.inflight--
	p.mu.Unlock()
	<-r.done
}

func (p *Pipeliner) send(ctx context.Context, batch []*request) {
	pipe := p.rdb.Pipeline()
	for _, r := range batch {
		r.build(pipe)
	}
	_, _ = pipe.Exec(ctx) // each caller reads its own commands' errors
	for _, r := range batch {
		close(r.done)
	}
}
