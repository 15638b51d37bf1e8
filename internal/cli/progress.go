package cli

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-runewidth"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/planner"
)

// jobProgress shows a job's progress while waitJob follows it. event and
// update may be called from different goroutines.
type jobProgress interface {
	// event shows one event of the job; events arrive in order.
	event(e broker.Event)
	// wantsTasks says whether update should be given the job's tasks,
	// which cost a read of every task.
	wantsTasks() bool
	// update shows the job's tasks as the ledger has them.
	update(js *planner.JobStatus)
	// stop ends the display and leaves its last state on screen.
	stop()
}

// terminal is what progress output knows about the stream it writes to.
// systemTerminal asks the operating system; tests make their own.
type terminal struct {
	// isTerminal reports whether w is an interactive terminal.
	isTerminal func(w io.Writer) bool
	// noColor forbids ANSI colors (https://no-color.org).
	noColor bool
}

func systemTerminal() terminal {
	return terminal{
		// Bars need cursor movement, which a dumb terminal lacks.
		isTerminal: func(w io.Writer) bool { return canPrompt(w) && os.Getenv("TERM") != "dumb" },
		noColor:    os.Getenv("NO_COLOR") != "",
	}
}

// newProgress picks how a job's progress is shown on w: bars when w is a
// terminal (and the job's plan, which gives the bars, can be read), one
// plain line per event otherwise, so that pipes and files never see
// escape codes.
func newProgress(w io.Writer, t terminal, job string, plan func() (*planner.Plan, error)) jobProgress {
	if t.isTerminal(w) {
		if p, err := plan(); err == nil && len(p.Subtasks()) > 0 {
			return newBarProgress(w, job, p, !t.noColor)
		}
	}
	return &lineProgress{w: w}
}

// lineProgress writes one line per event.
type lineProgress struct{ w io.Writer }

func (p *lineProgress) event(e broker.Event)      { fmt.Fprintln(p.w, formatEvent(e)) }
func (p *lineProgress) wantsTasks() bool          { return false }
func (p *lineProgress) update(*planner.JobStatus) {}
func (p *lineProgress) stop()                     {}

// Display limits of barProgress.
const (
	// runningShown is how many running tasks are listed under a phase's
	// bar; more are counted on one line.
	runningShown = 6
	barWidth     = 32
)

// barProgress draws one bar per phase of the job's plan, its tasks'
// counts by state, and under it the tasks running now with their agents.
// Tasks' states come from the ledger (update) and, sooner, from the
// events; failures are printed above the bars as they happen.
type barProgress struct {
	job   string
	color bool
	p     *mpb.Progress
	bars  []*mpb.Bar

	mu      sync.Mutex
	phases  []barPhase
	phaseOf map[string]int                // task id → index in phases; read-only
	ledger  map[string]planner.TaskStatus // the last update, by task
	events  map[string]taskEvent          // the last event of each task
	state   string                        // the job's
	created time.Time                     // the job's; start until known
	ended   time.Time                     // when the job finished, if it did
	stopped bool
}

type barPhase struct {
	name string
	ids  []string
}

type taskEvent struct {
	kind, worker string
	at           time.Time
}

// runningTask is a line under a phase's bar.
type runningTask struct {
	id, role, title, worker string
	since                   time.Time
}

func newBarProgress(w io.Writer, job string, plan *planner.Plan, color bool, opts ...mpb.ContainerOption) *barProgress {
	b := &barProgress{
		job: job, color: color, created: time.Now(), state: planner.JobRunning,
		ledger: map[string]planner.TaskStatus{}, events: map[string]taskEvent{}, phaseOf: map[string]int{},
	}
	for _, ph := range plan.Phases {
		if len(ph.Subtasks) == 0 {
			continue
		}
		bp := barPhase{name: ph.Name}
		for _, s := range ph.Subtasks {
			bp.ids = append(bp.ids, s.ID)
			b.phaseOf[s.ID] = len(b.phases)
			b.ledger[s.ID] = planner.TaskStatus{ID: s.ID, Role: s.Role, Title: s.Title}
		}
		b.phases = append(b.phases, bp)
	}
	// The caller decided that w is a terminal; mpb is not to second-guess
	// it (a test's terminal is a buffer).
	opts = append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.ForceTTY(), mpb.WithAutoRefresh()}, opts...)
	b.p = mpb.New(opts...)
	// One filler cannot be both above and below a bar, so the job's line
	// is a bar of its own.
	b.bars = append(b.bars, b.p.New(1, mpb.NopStyle(), mpb.BarFillerTrim(),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return b.header() }))))
	for i, ph := range b.phases {
		style := mpb.BarStyle().Lbound("[").Filler("=").Tip(">").Padding(" ").Rbound("]")
		if color {
			// Green, or red once a task of the phase failed for good.
			meta := func(s string) string { return paint(b.barColor(i))(s) }
			style = style.FillerMeta(meta).TipMeta(meta)
		}
		extend := make([]mpb.BarFiller, 0, runningShown+1)
		for line := range min(len(ph.ids), runningShown) {
			extend = append(extend, mpb.BarFillerFunc(func(w io.Writer, s decor.Statistics) error {
				return b.runningLine(w, s, i, line)
			}))
		}
		if len(ph.ids) > runningShown {
			extend = append(extend, mpb.BarFillerFunc(func(w io.Writer, s decor.Statistics) error {
				return b.moreLine(w, s, i)
			}))
		}
		opts := []mpb.BarOption{
			mpb.BarWidth(barWidth),
			mpb.PrependDecorators(decor.Name(ph.name, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(countsDecorator{b: b, phase: i}),
			mpb.BarBtmExtender(extend...),
		}
		b.bars = append(b.bars, b.p.New(int64(len(ph.ids)), style, opts...))
	}
	return b
}

func (b *barProgress) wantsTasks() bool { return true }

func (b *barProgress) update(js *planner.JobStatus) {
	b.mu.Lock()
	for _, t := range js.Tasks {
		b.ledger[t.ID] = t
	}
	b.state, b.ended = js.State, js.Finished
	if !js.Created.IsZero() {
		b.created = js.Created
	}
	b.mu.Unlock()
	b.refresh()
}

func (b *barProgress) event(e broker.Event) {
	if phase, ok := b.phaseOf[e.Task]; ok {
		b.mu.Lock()
		b.events[e.Task] = taskEvent{kind: e.Kind, worker: e.Worker, at: e.Time}
		b.mu.Unlock()
		b.refresh(phase)
	}
	switch e.Kind {
	case broker.EventRetrying, broker.EventDead, broker.EventJobFailed:
		// Above the bars, as the plain display would print them.
		_, _ = fmt.Fprintln(b.p, b.paintKind(e.Kind, formatEvent(e)))
	}
}

// refresh moves the bars of the given phases (all when none are given) to
// their counts of finished tasks. It must not hold b.mu while it calls mpb:
// the bars' decorators take b.mu while mpb waits for them.
func (b *barProgress) refresh(phases ...int) {
	if len(phases) == 0 {
		for i := range b.phases {
			phases = append(phases, i)
		}
	}
	done := make([]int64, len(phases))
	b.mu.Lock()
	for k, i := range phases {
		for _, id := range b.phases[i].ids {
			if finished(b.stateLocked(id)) {
				done[k]++
			}
		}
	}
	b.mu.Unlock()
	for k, i := range phases {
		b.bars[i+1].SetCurrent(done[k])
	}
}

func (b *barProgress) stop() {
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return
	}
	b.stopped = true
	b.mu.Unlock()
	b.refresh()
	if !b.bars[0].Completed() {
		b.bars[0].SetCurrent(1)
	}
	// A phase left unfinished (an interrupt) keeps its bar as it was.
	for _, bar := range b.bars {
		if !bar.Completed() {
			bar.Abort(false)
		}
	}
	b.p.Wait()
}

func finished(state string) bool {
	return state == planner.StateSucceeded || state == planner.StateDead || state == planner.StateBlocked
}

// stateLocked is a task's state for the display: the ledger's, unless the
// events already told that the task started or ended.
func (b *barProgress) stateLocked(id string) string {
	led, ev := b.ledger[id].State, b.events[id].kind
	switch {
	case finished(led):
		return led
	case finished(ev), ev == broker.EventRunning, ev == broker.EventRetrying:
		return ev
	case led != "":
		return led
	case ev == broker.EventQueued:
		return planner.StateQueued
	}
	return planner.StatePending
}

// Display states in the order the counts show them, with their colors.
var countOrder = []struct{ state, label, color string }{
	{planner.StateQueued, "queued", colorCyan},
	{planner.StateRunning, "running", colorYellow},
	{planner.StateRetrying, "retrying", colorMagenta},
	{planner.StateSucceeded, "succeeded", colorGreen},
	{planner.StateDead, "dead", colorRed},
	{planner.StateBlocked, "blocked", colorRed},
	{planner.StatePending, "waiting", colorDim},
}

// counts writes a phase's tasks by state, plain and colored.
func (b *barProgress) counts(phase int) (plain, colored string) {
	b.mu.Lock()
	n := map[string]int{}
	ph := b.phases[phase]
	for _, id := range ph.ids {
		s := b.stateLocked(id)
		if s == planner.StateReady {
			s = planner.StatePending
		}
		n[s]++
	}
	b.mu.Unlock()
	done := n[planner.StateSucceeded] + n[planner.StateDead] + n[planner.StateBlocked]
	head := fmt.Sprintf("%d/%d", done, len(ph.ids))
	var p, c []string
	for _, o := range countOrder {
		if n[o.state] > 0 {
			s := fmt.Sprintf("%d %s", n[o.state], o.label)
			p, c = append(p, s), append(c, b.paint(o.color, s))
		}
	}
	return head + "  " + strings.Join(p, ", "), head + "  " + strings.Join(c, ", ")
}

// running lists a phase's running tasks, longest running first.
func (b *barProgress) running(phase int) []runningTask {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []runningTask
	for _, id := range b.phases[phase].ids {
		if b.stateLocked(id) != planner.StateRunning {
			continue
		}
		t, ev := b.ledger[id], b.events[id]
		r := runningTask{id: id, role: t.Role, title: t.Title, worker: t.Worker, since: t.Started}
		if ev.kind == broker.EventRunning {
			// The event is the start itself; the ledger hears of it later.
			r.worker, r.since = ev.worker, ev.at
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].since.Before(out[j].since) })
	return out
}

func (b *barProgress) runningLine(w io.Writer, s decor.Statistics, phase, line int) error {
	rs := b.running(phase)
	if line >= len(rs) {
		return nil // no row
	}
	r := rs[line]
	head := fmt.Sprintf("  [%s] %s: ", r.role, r.id)
	tail := fmt.Sprintf(" (%s, %s)", r.worker, formatElapsed(time.Since(r.since)))
	// A long title gives way to the agent and the time.
	if room := s.AvailableWidth - 1 - runewidth.StringWidth(head+tail); room >= 8 {
		r.title = runewidth.Truncate(r.title, room, "…")
	}
	return b.writeLine(w, s, head+r.title+tail, colorYellow)
}

func (b *barProgress) moreLine(w io.Writer, s decor.Statistics, phase int) error {
	if n := len(b.running(phase)) - runningShown; n > 0 {
		return b.writeLine(w, s, fmt.Sprintf("  … and %d more running", n), colorDim)
	}
	return nil
}

// writeLine writes one row, cut to the terminal's width so that it never
// wraps (a wrapped row would throw mpb's cursor off).
func (b *barProgress) writeLine(w io.Writer, s decor.Statistics, text, color string) error {
	if s.AvailableWidth > 1 {
		text = runewidth.Truncate(text, s.AvailableWidth-1, "…")
	}
	_, err := io.WriteString(w, b.paint(color, text)+"\n")
	return err
}

func (b *barProgress) header() string {
	b.mu.Lock()
	state, total, ok := b.state, 0, 0
	end := b.ended
	if end.IsZero() {
		end = time.Now()
	}
	elapsed := end.Sub(b.created)
	for _, ph := range b.phases {
		for _, id := range ph.ids {
			total++
			if b.stateLocked(id) == planner.StateSucceeded {
				ok++
			}
		}
	}
	b.mu.Unlock()
	color := colorYellow
	switch state {
	case planner.JobSucceeded:
		color = colorGreen
	case planner.JobFailed:
		color = colorRed
	}
	return fmt.Sprintf("job %s %s: %d/%d tasks succeeded, %s", b.job, b.paint(color, state), ok, total, formatElapsed(elapsed))
}

func (b *barProgress) barColor(phase int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range b.phases[phase].ids {
		if s := b.stateLocked(id); s == planner.StateDead || s == planner.StateBlocked {
			return colorRed
		}
	}
	return colorGreen
}

func (b *barProgress) paintKind(kind, s string) string {
	if kind == broker.EventRetrying {
		return b.paint(colorMagenta, s)
	}
	return b.paint(colorRed, s)
}

// countsDecorator shows a phase's counts by state. Its view width is that
// of the text without colors, which mpb's own decorators would count.
type countsDecorator struct {
	decor.WC
	b     *barProgress
	phase int
}

func (d countsDecorator) Decor(decor.Statistics) (string, int) {
	plain, colored := d.b.counts(d.phase)
	return colored, runewidth.StringWidth(plain)
}

// SGR color codes.
const (
	colorRed     = "31"
	colorGreen   = "32"
	colorYellow  = "33"
	colorMagenta = "35"
	colorCyan    = "36"
	colorDim     = "2"
)

func (b *barProgress) paint(color, s string) string {
	if !b.color {
		return s
	}
	return paint(color)(s)
}

func paint(color string) func(string) string {
	return func(s string) string {
		if s == "" {
			return s
		}
		return "\x1b[" + color + "m" + s + "\x1b[0m"
	}
}
