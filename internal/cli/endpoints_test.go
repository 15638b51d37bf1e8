package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(addr, path string) (int, string) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// counter reads one sample of the metrics text.
func counter(t *testing.T, body, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` ([0-9.e+]+)$`).FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWorkerEndpoints(t *testing.T) {
	isolate(t)
	ctx := context.Background()

	// Before it connects: alive, not ready.
	addr := freeAddr(t)
	stuck := exec.Command(os.Args[0], "worker", "--roles", "diag", "--http", addr, "--nats", "nats://127.0.0.1:1", "--redis", "redis://127.0.0.1:1")
	stuck.Env = append(os.Environ(), "ORCHESTRATE_TEST_AS_MAIN=1")
	if err := stuck.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stuck.Process.Kill(); _, _ = stuck.Process.Wait() })
	testenv.Eventually(t, 5*time.Second, "/readyz to answer 503 while connecting", func() bool {
		code, body := get(addr, "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "connecting")
	})
	if code, _ := get(addr, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while connecting: %d", code)
	}

	n := testenv.StartNATS(t)
	r := testenv.StartRedis(t)
	flags := []string{"--nats", n.URL(), "--redis", r.URL, "--prefix", r.Prefix}
	addr = freeAddr(t)
	worker := exec.Command(os.Args[0], append([]string{"worker", "--roles", "diag", "--max-agents", "2", "--grace", "10s", "--http", addr}, flags...)...)
	worker.Env = append(os.Environ(), "ORCHESTRATE_TEST_AS_MAIN=1")
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = worker.Process.Kill(); _, _ = worker.Process.Wait() })
	testenv.Eventually(t, 10*time.Second, "/readyz to answer 200", func() bool {
		code, _ := get(addr, "/readyz")
		return code == http.StatusOK
	})

	st, err := stack.Open(ctx, stack.Options{NATSURL: n.URL(), RedisURL: r.URL, Prefix: r.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var subs []planner.Subtask
	for i := range 5 {
		subs = append(subs, planner.Subtask{ID: fmt.Sprintf("n%d", i), Title: "noop", Role: specialists.RoleDiag, Skill: "noop"})
	}
	subs = append(subs, planner.Subtask{ID: "long", Title: "sleep", Role: specialists.RoleDiag, Skill: "sleep", Params: map[string]string{"duration": "3s"}})
	if _, err := st.Submitter().Submit(ctx, &planner.Plan{Name: "metrics", Goal: "count", Phases: []planner.Phase{{Name: "all", Subtasks: subs}}}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the metrics to count the succeeded tasks and the running one", func() bool {
		_, body := get(addr, "/metrics")
		return counter(t, body, `orchestrate_tasks_ended_total{outcome="succeeded",role="diag",skill="noop"}`) == 5 &&
			counter(t, body, `orchestrate_tasks_in_flight{role="diag",skill="sleep"}`) == 1
	})
	_, body := get(addr, "/metrics")
	for _, want := range []string{`orchestrate_tasks_started_total{role="diag",skill="noop"} 5`, `orchestrate_artifact_bytes_total{role="diag"}`,
		`orchestrate_task_duration_seconds_count{outcome="succeeded",role="diag",skill="noop"} 5`,
		`orchestrate_task_pickup_seconds_count{role="diag"} 6`, `orchestrate_server_errors_total{server="redis"} 0`, "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Draining: not ready while the long task finishes.
	if err := worker.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "/readyz to answer 503 while draining", func() bool {
		code, body := get(addr, "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "draining")
	})
}
