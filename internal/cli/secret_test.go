package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/orchestrate-dev/orchestrate/internal/redisproc"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
)

// A job run over password-protected servers, with debug logs, shows the
// passwords nowhere: not in the progress, the logs, the JSON report or
// the events.
func TestSecretsStayOutOfOutputLogsAndEvents(t *testing.T) {
	isolate(t)
	const natsSecret, redisSecret = "n4ts-pa55-7731", "r3dis-pa55-9154"
	s := testenv.StartNATSWith(t, server.Options{Username: "orch", Password: natsSecret})
	rp, err := redisproc.Start(context.Background(), redisproc.Options{Args: []string{"--requirepass", redisSecret}})
	if errors.Is(err, redisproc.ErrNotInstalled) {
		t.Fatal("tests need a real Redis: install redis-server (apt-get install -y redis-server)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rp.Stop)
	natsURL := strings.Replace(s.ClientURL(), "nats://", "nats://orch:"+natsSecret+"@", 1)
	redisURL := "redis://:" + redisSecret + "@" + rp.Addr()
	flags := []string{"--nats", natsURL, "--redis", redisURL, "--log-level", "debug"}

	// A worker process serves the job while the submitter waits; its
	// logs are checked too.
	worker := exec.Command(os.Args[0], append([]string{"worker", "--roles", "ml-systems-architect,collector", "--max-agents", "2"}, flags...)...)
	worker.Env = append(os.Environ(), "ORCHESTRATE_TEST_AS_MAIN=1")
	var workerLog bytes.Buffer
	worker.Stdout, worker.Stderr = &workerLog, &workerLog
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = worker.Process.Kill(); _, _ = worker.Process.Wait() })
	code, stdout, stderr := execute(t, append([]string{"submit", "Design the system architecture", "--agent", "ml-systems-architect", "--wait", "--output", "json"}, flags...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, events, _ := execute(t, append([]string{"watch", jobOf(t, stdout), "--output", "json"}, flags...)...)
	_ = worker.Process.Signal(syscall.SIGTERM)
	_, _ = worker.Process.Wait()
	logs := workerLog.String()
	if !strings.Contains(logs, "agents serving") {
		t.Errorf("the worker logged nothing; the test proves little:\n%s", logs)
	}
	for _, secret := range []string{natsSecret, redisSecret} {
		for name, text := range map[string]string{"stdout": stdout, "stderr": stderr, "watch": events, "worker log": logs} {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows the secret %s:\n%s", name, secret, text)
			}
		}
	}
	if !strings.Contains(stderr, "succeeded") {
		t.Errorf("stderr does not show the job's progress:\n%s", stderr)
	}
}

func jobOf(t *testing.T, report string) string {
	t.Helper()
	i := strings.Index(report, `"job": "`)
	if i < 0 {
		t.Fatalf("no job in %s", report)
	}
	rest := report[i+len(`"job": "`):]
	return rest[:strings.Index(rest, `"`)]
}
