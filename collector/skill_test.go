package collector

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

const (
	goModule     = "module example.com/t\n\ngo 1.26\n"
	goSource     = "package t\n\n// Add adds.\nfunc Add(a, b int) int { return a + b }\n"
	manifestYAML = `name: tiny
test:
  command: ["go", "test", "./..."]
  timeout: 5m
`
)

// goTree is a job whose tree is a Go module with one test.
func goTree(job, test string) *memSource {
	return newMemSource().
		add(job, "t-plan", "orchestrate.yaml", []byte(manifestYAML), 0).
		add(job, "t-code", "go.mod", []byte(goModule), 0).
		add(job, "t-code", "add.go", []byte(goSource), 0).
		add(job, "t-tests", "add_test.go", []byte(test), 0)
}

func request(t *testing.T, job string) *specialists.Request {
	return &specialists.Request{
		Job: job, Task: job + "-collect", Role: specialists.RoleCollector, Attempt: 1,
		ScratchRoot: t.TempDir(),
		Env:         map[string]string{"ORCHESTRATE_TEST_REDIS_URL": "redis://127.0.0.1:1"},
	}
}

func TestSkillReportsPassingGoTests(t *testing.T) {
	test := `package t

import (
	"os"
	"testing"
)

func TestAdd(t *testing.T) {
	if Add(2, 3) != 5 {
		t.Fatal("Add(2, 3) != 5")
	}
	// The worker's Env reaches generated tests.
	if os.Getenv("ORCHESTRATE_TEST_REDIS_URL") == "" {
		t.Fatal("ORCHESTRATE_TEST_REDIS_URL is not set")
	}
}
`
	skill := Skill(goTree("job-ok", test), DefaultRunOptions(), nil)
	res, err := skill(context.Background(), request(t, "job-ok"))
	if err != nil {
		t.Fatalf("skill: %v", err)
	}
	if len(res.Files) != 1 || res.Files[0].Path != ReportPath {
		t.Fatalf("files = %+v, want only %s", res.Files, ReportPath)
	}
	if err := artifacts.ValidatePath(res.Files[0].Path); err != nil {
		t.Errorf("the report's path is not a valid artifact path: %v", err)
	}
	rep, err := ReadReport(res.Files[0].Data)
	if err != nil {
		t.Fatalf("ReadReport: %v", err)
	}
	if !rep.Passed || rep.ExitCode != 0 || strings.Join(rep.Command, " ") != "go test ./..." {
		t.Errorf("report = %+v, want a pass of go test ./...", rep)
	}
	if len(rep.Packages) != 1 || rep.Packages[0].Result != "ok" {
		t.Errorf("packages = %+v, want the one package ok", rep.Packages)
	}
	if strings.Contains(string(res.Files[0].Data), "duration") {
		t.Errorf("the report in the tree holds a duration, which differs from run to run:\n%s", res.Files[0].Data)
	}
	if !strings.HasPrefix(res.Summary, "tests passed in ") {
		t.Errorf("summary = %q", res.Summary)
	}
	t.Logf("summary: %s", res.Summary)
}

func TestSkillFailsPermanently(t *testing.T) {
	failing := `package t

import "testing"

func TestAddOverflows(t *testing.T) {
	if Add(2, 2) != 5 {
		t.Fatal("2 + 2 is not 5")
	}
}
`
	tests := []struct {
		name    string
		src     *memSource
		wantErr error
		want    []string
	}{
		{"a failing Go test names the test, the command and the exit code",
			goTree("j", failing), ErrTestsFailed,
			[]string{"TestAddOverflows", "2 + 2 is not 5", "go test ./...", "exited with code 1"}},
		{"a tree without a manifest cannot pass",
			newMemSource().add("j", "t-code", "go.mod", []byte(goModule), 0), ErrNoManifest,
			[]string{ManifestFile}},
		{"an invalid manifest cannot pass",
			newMemSource().add("j", "t-plan", "orchestrate.yaml", []byte("test: {}\n"), 0), ErrInvalidManifest,
			[]string{"test.command"}},
		{"conflicting artifacts cannot fix themselves",
			goTree("j", failing).add("j", "t-other", "Add.go", []byte("package t\n"), 0), artifacts.ErrConflict,
			[]string{"Add.go", "add.go", "t-other", "t-code"}},
		{"a test program that is not installed cannot pass",
			newMemSource().add("j", "t-plan", "orchestrate.yaml", []byte("test:\n  command: [no-such-runner-xyz]\n"), 0), nil,
			[]string{"no-such-runner-xyz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Skill(tt.src, DefaultRunOptions(), nil)(context.Background(), request(t, "j"))
			if err == nil || !specialists.IsPermanent(err) {
				t.Fatalf("err = %v, want a permanent error", err)
			}
			t.Logf("error: %v", err)
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestSkillRetriesWhenTheWorkerStops(t *testing.T) {
	src := newMemSource().add("j", "t-plan", "orchestrate.yaml",
		[]byte("test:\n  command: [sh, -c, \"touch started; sleep 30\"]\n"), 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := request(t, "j")
	work, err := req.Workdir() // made here, so the goroutine below only reads it
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Skill(src, RunOptions{}, nil)(ctx, req)
		done <- err
	}()
	waitFor(t, 10*time.Second, "the test command to start", func() bool {
		_, err := os.Stat(filepath.Join(work, "tree", "started"))
		return err == nil
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || specialists.IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable context.Canceled", err)
	}
}

func TestReadReportRefusesWhatIsNotAReport(t *testing.T) {
	tests := []struct{ name, data string }{
		{"invalid JSON is refused", "{"},
		{"a report without a command is refused", `{"passed": true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadReport([]byte(tt.data)); err == nil {
				t.Errorf("ReadReport(%s) succeeded", tt.data)
			}
		})
	}
}

func TestTreeReportReadsGoTestLines(t *testing.T) {
	out := "=== RUN   TestX\nok  \tml-system/a\t1.234s\n?   \tml-system/b\t[no test files]\nok  \tml-system/c\t(cached)\nFAIL\tml-system/d\t0.5s\nFAIL\n"
	got := treeReport(&Report{Command: []string{"go", "test"}, Output: out})
	want := []PackageResult{{"ml-system/a", "ok"}, {"ml-system/b", "no test files"}, {"ml-system/c", "ok"}, {"ml-system/d", "FAIL"}}
	if !slices.Equal(got.Packages, want) {
		t.Errorf("packages = %+v, want %+v", got.Packages, want)
	}
}

func TestScratchRedisIsLentAndCleaned(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client(t)
	// The generated test speaks RESP itself: the tree has no dependencies.
	test := `package t

import (
	"bufio"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
)

func TestWritesUnderThePrefix(t *testing.T) {
	u, err := url.Parse(os.Getenv("FEATURE_STORE_REDIS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	prefix := os.Getenv("FEATURE_STORE_KEY_PREFIX")
	if !strings.Contains(prefix, "job-scratch") {
		t.Fatalf("prefix %q does not name the job", prefix)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key := prefix + "left-behind"
	if _, err := c.Write([]byte("*3\r\n$3\r\nSET\r\n$" + itoa(len(key)) + "\r\n" + key + "\r\n$1\r\nv\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "+OK\r\n" {
		t.Fatalf("SET answered %q, %v", line, err)
	}
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}
`
	scratch := &ScratchRedis{Client: rdb, URL: r.URL, Prefix: r.Prefix}
	if _, err := Skill(goTree("job-scratch", test), DefaultRunOptions(), scratch)(context.Background(), request(t, "job-scratch")); err != nil {
		t.Fatalf("skill: %v", err)
	}
	keys, err := rdb.Keys(context.Background(), r.Prefix+"scratch:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("keys left under the scratch prefix: %v", keys)
	}
}
