// Package coalesce merges the Redis work of concurrent callers into fewer
// round trips. Agents of a pool each send two small pipelines per task;
// sent one by one, their system calls on both ends of the connection cost
// more than the commands. Coalesced, one write and one read carry the work
// of many agents.
package coalesce

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Batcher hands the items of concurrent callers to a send function in
// batches. It runs no goroutine of its own: a caller that finds a free slot
// sends the pending items, its own among them, and keeps sending until
// none are left, so no item is ever stranded.
type Batcher[T any] struct {
	send     func(ctx context.Context, batch []T)
	slots    int // batches in flight at most
	maxBatch int // items per batch at most

	mu       sync.Mutex
	pending  []*request[T]
	inflight int
}

type request[T any] struct {
	item T
	done chan struct{}
}

// NewBatcher returns a Batcher that calls send with up to maxBatch items
// (zero means 256) and has up to slots batches in flight (zero means 4).
// send must deliver each item's outcome through the item itself.
func NewBatcher[T any](slots, maxBatch int, send func(ctx context.Context, batch []T)) *Batcher[T] {
	if slots <= 0 {
		slots = 4
	}
	if maxBatch <= 0 {
		maxBatch = 256
	}
	return &Batcher[T]{send: send, slots: slots, maxBatch: maxBatch}
}

// Do queues item and returns once a send that included it returned. It
// ignores ctx's cancellation once the item is queued, since it may already
// be on the wire.
func (b *Batcher[T]) Do(ctx context.Context, item T) {
	r := &request[T]{item: item, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, r)
	if b.inflight >= b.slots {
		b.mu.Unlock()
		<-r.done
		return
	}
	b.inflight++
	for len(b.pending) > 0 {
		n := min(len(b.pending), b.maxBatch)
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()
		items := make([]T, len(batch))
		for i, r := range batch {
			items[i] = r.item
		}
		b.send(context.WithoutCancel(ctx), items)
		for _, r := range batch {
			close(r.done)
		}
		b.mu.Lock()
	}
	b.inflight--
	b.mu.Unlock()
	<-r.done
}

// Pipeliner sends pipelines, coalescing those that arrive while others are
// in flight into one.
type Pipeliner struct {
	b *Batcher[func(redis.Pipeliner)]
}

// New returns a Pipeliner with up to slots pipelines in flight (zero means
// 4) of up to maxBatch callers each (zero means 256).
func New(rdb redis.UniversalClient, slots, maxBatch int) *Pipeliner {
	return &Pipeliner{b: NewBatcher(slots, maxBatch, func(ctx context.Context, builds []func(redis.Pipeliner)) {
		pipe := rdb.Pipeline()
		for _, build := range builds {
			build(pipe)
		}
		_, _ = pipe.Exec(ctx) // each caller reads its own commands' errors
	})}
}

// Do queues build's commands and returns once they ran. The caller reads
// the results and errors from its own commands: a failure of the round
// trip is set on every command in it.
func (p *Pipeliner) Do(ctx context.Context, build func(redis.Pipeliner)) { p.b.Do(ctx, build) }
