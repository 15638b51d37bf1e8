package workers

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/orchestrate-dev/orchestrate/broker"
)

// dispatcher hands delivered messages to agents, highest priority first.
// A strict order would starve low-priority work under a steady stream of
// high-priority tasks, so after `limit` consecutive picks that passed over
// waiting lower-priority work, the lowest waiting priority is served once.
type dispatcher struct {
	queues [3]chan jetstream.Msg // by index in broker.Priorities

	mu       sync.Mutex
	favoured int
	limit    int
}

func newDispatcher(capacity, limit int) *dispatcher {
	d := &dispatcher{limit: limit}
	for i := range d.queues {
		d.queues[i] = make(chan jetstream.Msg, capacity)
	}
	return d
}

func priorityIndex(p broker.Priority) int {
	for i, q := range broker.Priorities {
		if q == p {
			return i
		}
	}
	return 1
}

// next blocks until a message is available or ctx is done.
func (d *dispatcher) next(ctx context.Context) (jetstream.Msg, bool) {
	if ctx.Err() != nil {
		return nil, false
	}
	if m, ok := d.tryNext(); ok {
		return m, true
	}
	select {
	case m := <-d.queues[0]:
		return m, true
	case m := <-d.queues[1]:
		return m, true
	case m := <-d.queues[2]:
		return m, true
	case <-ctx.Done():
		return nil, false
	}
}

func (d *dispatcher) tryNext() (jetstream.Msg, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.favoured >= d.limit {
		for i := len(d.queues) - 1; i >= 0; i-- {
			select {
			case m := <-d.queues[i]:
				d.favoured = 0
				return m, true
			default:
			}
		}
	}
	for i := range d.queues {
		select {
		case m := <-d.queues[i]:
			if d.lowerWaiting(i) {
				d.favoured++
			} else {
				d.favoured = 0
			}
			return m, true
		default:
		}
	}
	return nil, false
}

func (d *dispatcher) lowerWaiting(i int) bool {
	for j := i + 1; j < len(d.queues); j++ {
		if len(d.queues[j]) > 0 {
			return true
		}
	}
	return false
}

// drain removes every queued message and passes it to fn.
func (d *dispatcher) drain(fn func(jetstream.Msg)) {
	for i := range d.queues {
		for {
			select {
			case m := <-d.queues[i]:
				fn(m)
				continue
			default:
			}
			break
		}
	}
}
