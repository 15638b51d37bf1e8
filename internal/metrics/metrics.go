// Package metrics exposes what a worker does to Prometheus: the tasks its
// agents start and how they end, by role and skill, how long they take,
// how many run now, and the artifact bytes they write. docs/metrics.md
// lists the names.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Worker is a workers.Observer that records into its own registry.
type Worker struct {
	reg       *prometheus.Registry
	started   *prometheus.CounterVec
	ended     *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	inFlight  *prometheus.GaugeVec
	artifacts *prometheus.CounterVec
	pickup    *prometheus.HistogramVec
	errors    *prometheus.CounterVec
}

// NewWorker registers the worker's metrics, and Go's and the process's.
func NewWorker() *Worker {
	w := &Worker{
		reg: prometheus.NewRegistry(),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrate_tasks_started_total", Help: "Task executions started, by role and skill.",
		}, []string{"role", "skill"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrate_tasks_ended_total",
			Help: "Task executions ended, by role, skill and outcome (succeeded, retried, dead, interrupted, abandoned).",
		}, []string{"role", "skill", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "orchestrate_task_duration_seconds", Help: "Wall time of task executions, by role, skill and outcome.",
			// From a no-op's milliseconds to a model's training hour.
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 12),
		}, []string{"role", "skill", "outcome"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "orchestrate_tasks_in_flight", Help: "Task executions running now, by role and skill.",
		}, []string{"role", "skill"}),
		artifacts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrate_artifact_bytes_total", Help: "Bytes of artifacts recorded by succeeded tasks, by role.",
		}, []string{"role"}),
		pickup: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "orchestrate_task_pickup_seconds", Help: "Time from a task's publication (or redelivery) to an agent taking it, by role.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 12),
		}, []string{"role"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrate_server_errors_total", Help: "Failed calls to the servers, by server (nats, redis).",
		}, []string{"server"}),
	}
	// Both series exist from the start, so that a rate over them is 0,
	// not absent, until the first error.
	w.errors.WithLabelValues("nats")
	w.errors.WithLabelValues("redis")
	w.reg.MustRegister(w.started, w.ended, w.duration, w.inFlight, w.artifacts, w.pickup, w.errors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return w
}

// TaskStarted implements workers.Observer.
func (w *Worker) TaskStarted(role, skill string) {
	w.started.WithLabelValues(role, skill).Inc()
	w.inFlight.WithLabelValues(role, skill).Inc()
}

// TaskEnded implements workers.Observer.
func (w *Worker) TaskEnded(role, skill, outcome string, d time.Duration) {
	w.inFlight.WithLabelValues(role, skill).Dec()
	w.ended.WithLabelValues(role, skill, outcome).Inc()
	w.duration.WithLabelValues(role, skill, outcome).Observe(d.Seconds())
}

// ArtifactBytes implements workers.Observer.
func (w *Worker) ArtifactBytes(role string, n int) {
	w.artifacts.WithLabelValues(role).Add(float64(n))
}

// TaskPickedUp implements workers.Observer.
func (w *Worker) TaskPickedUp(role string, wait time.Duration) {
	w.pickup.WithLabelValues(role).Observe(wait.Seconds())
}

// ServerError implements workers.Observer.
func (w *Worker) ServerError(server string) { w.errors.WithLabelValues(server).Inc() }

// Handler serves the metrics in Prometheus's exposition format.
func (w *Worker) Handler() http.Handler {
	return promhttp.HandlerFor(w.reg, promhttp.HandlerOpts{Registry: w.reg})
}
