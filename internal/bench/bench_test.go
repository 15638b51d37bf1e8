package bench_test

import (
	"context"
	"io"
	"testing"

	"github.com/orchestrate-dev/orchestrate/internal/bench"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
)

// A small run of every phase: the figures are for `orchestrate bench` on a
// quiet machine; here only that each phase completes and reports.
func TestEveryPhaseCompletesAndReports(t *testing.T) {
	n := testenv.StartNATS(t)
	r := testenv.StartRedis(t)
	st, err := stack.Open(context.Background(), stack.Options{NATSURL: n.URL(), RedisURL: r.URL, Prefix: r.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res, err := bench.Run(context.Background(), st, bench.Options{Tasks: 300, Concurrency: 8, Rounds: 2, Rate: 500, PacedTasks: 100}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.RoundsRaw) != 2 || len(res.RoundsFull) != 2 || res.RawPerSec <= 0 || res.FullPerSec <= 0 || res.Ratio <= 0 {
		t.Errorf("throughput figures %+v", res)
	}
	if res.SubmitStartP50 <= 0 || res.SubmitStartP99 < res.SubmitStartP50 || res.SubmitStartMax < res.SubmitStartP99 {
		t.Errorf("latency figures p50 %v p99 %v max %v", res.SubmitStartP50, res.SubmitStartP99, res.SubmitStartMax)
	}
}
