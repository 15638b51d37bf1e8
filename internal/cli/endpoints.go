package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/orchestrate-dev/orchestrate/internal/metrics"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
)

// The states /readyz reports.
const (
	stateConnecting int32 = iota
	stateServing
	stateDraining
)

// endpoints serves a worker's /healthz, /readyz and /metrics.
type endpoints struct {
	state   atomic.Int32
	stack   atomic.Pointer[stack.Stack]
	metrics *metrics.Worker
	srv     *http.Server
}

// startEndpoints listens on addr before the worker connects, so that
// /readyz can say it is not ready yet.
func startEndpoints(addr string) (*endpoints, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usagef("--http %s: %v", addr, err)
	}
	e := &endpoints{metrics: metrics.NewWorker()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", e.ready)
	mux.Handle("GET /metrics", e.metrics.Handler())
	e.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()
	return e, nil
}

// ready is 200 only while the pool serves with both servers answering.
func (e *endpoints) ready(w http.ResponseWriter, r *http.Request) {
	notReady := func(why string) {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, why)
	}
	switch e.state.Load() {
	case stateConnecting:
		notReady("connecting to NATS and Redis")
		return
	case stateDraining:
		notReady("draining: finishing running tasks, taking no new ones")
		return
	}
	st := e.stack.Load()
	if !st.Broker.Conn().IsConnected() {
		notReady("NATS connection lost; reconnecting")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if err := st.Redis.Ping(ctx).Err(); err != nil {
		notReady("Redis does not answer: " + err.Error())
		return
	}
	fmt.Fprintln(w, "ready")
}

func (e *endpoints) serving(st *stack.Stack) {
	e.stack.Store(st)
	e.state.Store(stateServing)
}

func (e *endpoints) draining() { e.state.Store(stateDraining) }

func (e *endpoints) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		_ = e.srv.Close()
	}
}
