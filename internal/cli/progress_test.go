package cli

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"
	"github.com/vbauerster/mpb/v8"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/planner"
)

// twoPhases is a plan of three tasks in two phases.
var twoPhases = &planner.Plan{Name: "p", Phases: []planner.Phase{
	{Name: "Foundation", Subtasks: []planner.Subtask{
		{ID: "scaffold", Title: "Lay out the project", Role: "ml-systems-architect"},
		{ID: "features", Title: "Build the feature pipelines", Role: "data-pipeline-engineer"},
	}},
	{Name: "Model Development", Subtasks: []planner.Subtask{
		{ID: "train", Title: "Train the models", Role: "data-science-analyst"},
	}},
}}

func fakeTerminal(isTTY bool) terminal {
	return terminal{isTerminal: func(io.Writer) bool { return isTTY }}
}

// ansi matches any escape sequence: colors and cursor movement alike.
var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

func TestThePlainProgressWritesOneLinePerEventAndNoEscapeCodes(t *testing.T) {
	var out bytes.Buffer
	pr := newProgress(&out, fakeTerminal(false), "j", func() (*planner.Plan, error) { return twoPhases, nil })
	at := time.Date(2026, 11, 26, 1, 2, 3, 4e6, time.Local)
	for _, e := range []broker.Event{
		{Time: at, Job: "j", Kind: broker.EventJobCreated},
		{Time: at, Job: "j", Task: "scaffold", Kind: broker.EventQueued},
		{Time: at, Job: "j", Task: "scaffold", Kind: broker.EventRunning, Worker: "h-1-a1", Attempt: 1},
		{Time: at, Job: "j", Task: "scaffold", Kind: broker.EventRetrying, Worker: "h-1-a1", Attempt: 1, Error: "disk full\nand more"},
		{Time: at, Job: "j", Task: "scaffold", Kind: broker.EventSucceeded, Worker: "h-1-a2", Attempt: 2},
		{Time: at, Job: "j", Kind: broker.EventJobSucceeded, Worker: "h-1-a2"},
	} {
		pr.event(e)
	}
	if pr.wantsTasks() {
		t.Error("the plain display asks for every task, which it never shows")
	}
	pr.update(&planner.JobStatus{State: planner.JobSucceeded})
	pr.stop()
	want := `01:02:03.004 job job-created
01:02:03.004 scaffold                 queued
01:02:03.004 scaffold                 running by h-1-a1
01:02:03.004 scaffold                 retrying by h-1-a1: disk full
01:02:03.004 scaffold                 succeeded by h-1-a2 (attempt 2)
01:02:03.004 job job-succeeded by h-1-a2
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestBarsAreChosenOnlyForATerminal(t *testing.T) {
	plan := func() (*planner.Plan, error) { return twoPhases, nil }
	noPlan := func() (*planner.Plan, error) { return nil, errors.New("no plan") }
	cases := []struct {
		name  string
		term  terminal
		plan  func() (*planner.Plan, error)
		lines bool
	}{
		{"a pipe or a file gets lines", fakeTerminal(false), plan, true},
		{"a terminal gets bars", fakeTerminal(true), plan, false},
		{"a terminal gets lines when the plan cannot be read", fakeTerminal(true), noPlan, true},
		{"a terminal gets lines for a plan without tasks", fakeTerminal(true), func() (*planner.Plan, error) { return &planner.Plan{}, nil }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			pr := newProgress(&out, c.term, "j", c.plan)
			_, lines := pr.(*lineProgress)
			pr.stop()
			if lines != c.lines {
				t.Errorf("got %T", pr)
			}
		})
	}
}

func TestTheRealTerminalCheckSaysNoToBuffersAndFilesAndHonoursNoColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	term := systemTerminal()
	if !term.noColor {
		t.Error("NO_COLOR=1 allows colors")
	}
	f, err := os.CreateTemp(t.TempDir(), "progress")
	if err != nil {
		t.Fatal(err)
	}
	if term.isTerminal(&bytes.Buffer{}) || term.isTerminal(f) {
		t.Error("a buffer or a file is taken for a terminal")
	}
	t.Setenv("NO_COLOR", "")
	if systemTerminal().noColor {
		t.Error("an empty NO_COLOR forbids colors")
	}
}

// screen is what a terminal shows after s, written by mpb, which moves the
// cursor only up a frame's rows to clear them before the next frame.
func screen(s string) string {
	var lines []string
	up := regexp.MustCompile(`\x1b\[(\d+)A\x1b\[J`)
	for {
		loc := up.FindStringSubmatchIndex(s)
		if loc == nil {
			break
		}
		lines = append(lines, strings.SplitAfter(s[:loc[0]], "\n")...)
		lines = slices.DeleteFunc(lines, func(l string) bool { return l == "" })
		n, _ := strconv.Atoi(s[loc[2]:loc[3]])
		lines = lines[:max(len(lines)-n, 0)]
		s = s[loc[1]:]
	}
	return strings.Join(lines, "") + s
}

// syncBuffer is a terminal that a test reads while mpb writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestTheBarsShowEachPhaseWithItsCountsAndRunningTasks(t *testing.T) {
	var out syncBuffer
	b := newBarProgress(&out, "j", twoPhases, false)
	// 42s on the screen for the next 0.9s.
	started := time.Now().Add(-41600 * time.Millisecond)
	b.update(&planner.JobStatus{ID: "j", State: planner.JobRunning, Created: started, Tasks: []planner.TaskStatus{
		{ID: "scaffold", State: planner.StateSucceeded},
		{ID: "features", Role: "data-pipeline-engineer", Title: "Build the feature pipelines", State: planner.StateQueued},
		{ID: "train", State: planner.StatePending},
	}})
	// The event tells of the start before the ledger does.
	b.event(broker.Event{Time: started, Job: "j", Task: "features", Kind: broker.EventRunning, Worker: "h-1-a2"})
	want := `job j running: 1/3 tasks succeeded, 42s
Foundation         [==============>               ] 1/2  1 running, 1 succeeded
  [data-pipeline-engineer] features: Build the feature pipelines (h-1-a2, 42s)
Model Development  [                              ] 0/1  1 waiting
`
	for deadline := time.Now().Add(5 * time.Second); screen(out.String()) != want; {
		if time.Now().After(deadline) {
			t.Fatalf("the screen:\n%s\nwant:\n%s", screen(out.String()), want)
		}
		time.Sleep(5 * time.Millisecond)
	}

	b.event(broker.Event{Time: started, Job: "j", Task: "features", Kind: broker.EventDead, Worker: "h-1-a2", Error: "boom"})
	b.update(&planner.JobStatus{ID: "j", State: planner.JobFailed, Created: started, Finished: started.Add(time.Minute + 400*time.Millisecond), Tasks: []planner.TaskStatus{
		{ID: "scaffold", State: planner.StateSucceeded},
		{ID: "features", State: planner.StateDead},
		{ID: "train", State: planner.StateBlocked},
	}})
	b.stop()
	// The failure stays above the bars.
	want = started.Format("15:04:05.000") + ` features                 dead by h-1-a2: boom
job j failed: 1/3 tasks succeeded, 1m00s
Foundation         [==============================] 2/2  1 succeeded, 1 dead
Model Development  [==============================] 1/1  1 blocked
`
	if got := screen(out.String()); got != want {
		t.Errorf("the screen:\n%s\nwant:\n%s", got, want)
	}
	if sgr := regexp.MustCompile(`\x1b\[[0-9;]*m`); sgr.MatchString(out.String()) {
		t.Errorf("colors without color:\n%q", out.String())
	}
}

func TestTheBarsAreColoredUnlessNoColor(t *testing.T) {
	var out bytes.Buffer
	pr := newProgress(&out, terminal{isTerminal: func(io.Writer) bool { return true }}, "j", func() (*planner.Plan, error) { return twoPhases, nil })
	pr.update(&planner.JobStatus{ID: "j", State: planner.JobSucceeded, Tasks: []planner.TaskStatus{
		{ID: "scaffold", State: planner.StateSucceeded}, {ID: "features", State: planner.StateSucceeded}, {ID: "train", State: planner.StateSucceeded},
	}})
	pr.stop()
	if !strings.Contains(out.String(), "\x1b[32m3 succeeded\x1b[0m") && !strings.Contains(out.String(), "\x1b[32m2 succeeded\x1b[0m") {
		t.Errorf("no green counts:\n%q", out.String())
	}
	if got := ansi.ReplaceAllString(screen(out.String()), ""); !strings.Contains(got, "Model Development  [==============================] 1/1  1 succeeded") {
		t.Errorf("the screen without its colors:\n%s", got)
	}
}

func TestALongTitleIsCutToTheTerminalsWidthButKeepsItsAgentAndTime(t *testing.T) {
	var out syncBuffer
	plan := &planner.Plan{Phases: []planner.Phase{{Name: "All", Subtasks: []planner.Subtask{
		{ID: "train", Role: "data-science-analyst", Title: "Baseline model (logistic regression), advanced models (gradient-boosted trees, a neural network)"},
	}}}}
	b := newBarProgress(&out, "j", plan, false, mpb.WithWidth(72))
	b.event(broker.Event{Time: time.Now(), Job: "j", Task: "train", Kind: broker.EventRunning, Worker: "h-1-a3"})
	// The elapsed time is the wall clock's: under load the screen may be
	// drawn seconds after the event.
	want := regexp.MustCompile(`(?m)^  \[data-science-analyst\] train: Baseline model \(logistic … \(h-1-a3, [0-9]s\)$`)
	for deadline := time.Now().Add(5 * time.Second); !want.MatchString(screen(out.String())); {
		if time.Now().After(deadline) {
			t.Fatalf("the screen:\n%s\nwant a line:\n%s", screen(out.String()), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.stop()
	if w := runewidth.StringWidth(want.FindString(screen(out.String()))); w != 71 {
		t.Errorf("the line is %d columns wide on a terminal of 72", w)
	}
}
