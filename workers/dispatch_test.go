package workers

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// tagged stands in for a delivered message; the dispatcher only moves
// messages around, so their identity is all that matters here.
type tagged struct {
	jetstream.Msg
	tag string
}

func fill(d *dispatcher, prio int, n int, tag string) {
	for range n {
		d.queues[prio] <- tagged{tag: tag}
	}
}

func order(d *dispatcher, n int) string {
	var out []string
	for range n {
		m, ok := d.next(context.Background())
		if !ok {
			break
		}
		out = append(out, m.(tagged).tag)
	}
	return strings.Join(out, "")
}

func TestDispatcherServesHigherPrioritiesFirst(t *testing.T) {
	d := newDispatcher(16, 100)
	fill(d, 2, 2, "L")
	fill(d, 1, 2, "N")
	fill(d, 0, 2, "H")
	if got := order(d, 6); got != "HHNNLL" {
		t.Errorf("order = %s, want HHNNLL", got)
	}
}

func TestDispatcherServesWaitingLowerWorkAfterTheStarvationLimit(t *testing.T) {
	d := newDispatcher(32, 3)
	fill(d, 0, 10, "H")
	fill(d, 2, 2, "L")
	// Three highs pass over the waiting lows, then one low is served.
	if got := order(d, 12); got != "HHHLHHHLHHHH" {
		t.Errorf("order = %s, want HHHLHHHLHHHH", got)
	}
}

func TestDispatcherStopsWhenItsContextEnds(t *testing.T) {
	d := newDispatcher(1, 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok := d.next(ctx); ok {
		t.Fatal("next returned a message from empty queues after cancel")
	}
}
