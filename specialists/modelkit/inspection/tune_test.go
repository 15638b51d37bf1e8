package inspection_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/inspection"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/vision"
)

// smallSearch keeps a search well under a second.
func smallSearch() inspection.TuneOptions {
	return inspection.TuneOptions{Frames: 150, Trials: 4, Epochs: 2, Seed: 3}
}

func tune(t *testing.T, o inspection.TuneOptions) (*inspection.TuneReport, []byte) {
	t.Helper()
	rep, err := inspection.Tune(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return rep, data
}

func TestASearchTriesDistinctPointsAndPicksTheBest(t *testing.T) {
	rep, _ := tune(t, smallSearch())
	if len(rep.Trials) != 4 || rep.Frames != (inspection.TuneFrames{Train: 120, Validation: 30}) {
		t.Fatalf("%d trials on %+v frames", len(rep.Trials), rep.Frames)
	}
	if !slices.Equal(rep.Space.Epochs, []int{2}) {
		t.Errorf("space epochs %v: a fixed Epochs replaces the searched ones", rep.Space.Epochs)
	}
	seen := map[string]bool{}
	for i, tr := range rep.Trials {
		key := fmt.Sprint(tr.LearningRate, tr.Channels, tr.Epochs, tr.BatchSize)
		if seen[key] {
			t.Errorf("trial %d repeats %s", tr.Number, key)
		}
		seen[key] = true
		if tr.Number != i+1 || tr.Epochs != 2 || len(tr.History) != 2 {
			t.Errorf("trial %d at %d: %d epochs, history of %d", tr.Number, i, tr.Epochs, len(tr.History))
		}
		if !slices.Contains(rep.Space.LearningRates, tr.LearningRate) || !slices.Contains(rep.Space.BatchSizes, tr.BatchSize) ||
			!slices.ContainsFunc(rep.Space.Channels, func(c []int) bool { return slices.Equal(c, tr.Channels) }) {
			t.Errorf("trial %d (%v, %v, %d) is not a point of the space", tr.Number, tr.LearningRate, tr.Channels, tr.BatchSize)
		}
		// The scores are those of the epoch whose model Train keeps: the
		// first of lowest validation loss.
		kept := tr.History[tr.BestEpoch-1]
		if kept.ValidAUC != tr.ValidAUC || kept.ValidLoss != tr.ValidLoss {
			t.Errorf("trial %d: scores %v/%v, its epoch %d has %+v", tr.Number, tr.ValidAUC, tr.ValidLoss, tr.BestEpoch, kept)
		}
		for _, e := range tr.History[:tr.BestEpoch-1] {
			if e.ValidLoss <= kept.ValidLoss {
				t.Errorf("trial %d keeps epoch %d, but epoch %d has a loss as low", tr.Number, tr.BestEpoch, e.Epoch)
			}
		}
	}
	best := rep.BestTrial()
	for _, tr := range rep.Trials {
		if tr.ValidAUC > best.ValidAUC || tr.ValidAUC == best.ValidAUC && tr.ValidLoss < best.ValidLoss {
			t.Errorf("trial %d (AUC %v, loss %v) beats the best, trial %d (AUC %v, loss %v)",
				tr.Number, tr.ValidAUC, tr.ValidLoss, best.Number, best.ValidAUC, best.ValidLoss)
		}
	}
}

// A search long enough to learn finds a network that tells defects apart.
func TestTheBestTrialDetectsDefects(t *testing.T) {
	rep, _ := tune(t, inspection.TuneOptions{Frames: 400, Trials: 2, Epochs: 5, Seed: 3})
	best := rep.BestTrial()
	if best.ValidAUC < 0.8 {
		t.Errorf("best trial %+v: validation ROC AUC %v, want at least 0.8", best, best.ValidAUC)
	}
}

// A trial with the job's hyperparameters trains the job's scratch model:
// the search and the job are comparable.
func TestATrialWithRunsHyperparametersIsRunsScratchModel(t *testing.T) {
	rep, _ := tune(t, inspection.TuneOptions{Frames: 100, Trials: 24, Epochs: 2, Seed: 5})
	i := slices.IndexFunc(rep.Trials, func(tr inspection.Trial) bool {
		return tr.LearningRate == 0.003 && slices.Equal(tr.Channels, []int{8, 16, 16}) && tr.BatchSize == 32
	})
	if i < 0 {
		t.Fatal("the 24 trials miss the job's hyperparameters")
	}
	out := t.TempDir()
	if _, err := inspection.Run(context.Background(), inspection.Options{Out: out, Frames: 100, Pretrain: 50, Epochs: 2, ParityFrames: 4, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, inspection.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	var history map[string][]vision.Epoch
	if err := json.Unmarshal(data, &history); err != nil {
		t.Fatal(err)
	}
	if got, want := rep.Trials[i].History, history["scratch"]; !slices.Equal(got, want) {
		t.Errorf("trial %d: history %+v, the job's scratch model %+v", rep.Trials[i].Number, got, want)
	}
}

// The report is the same bytes for the same options, however many trials
// run at once.
func TestASearchIsReproducible(t *testing.T) {
	o := smallSearch()
	_, a := tune(t, o)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	_, b := tune(t, o)
	if !bytes.Equal(a, b) {
		t.Errorf("two searches differ:\n%s\n%s", a, b)
	}
	o.Seed++
	if _, c := tune(t, o); bytes.Equal(a, c) {
		t.Error("another seed gave the same report")
	}
}

func TestASearchSplitsTheLabeledFrames(t *testing.T) {
	labeled, err := vision.Synthesize(vision.SynthConfig{N: 60, Seed: 8})
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := tune(t, inspection.TuneOptions{Labeled: labeled, Frames: 5000, Trials: 1, Epochs: 1})
	if rep.Frames != (inspection.TuneFrames{Train: 48, Validation: 12}) {
		t.Errorf("frames %+v, want 48 and 12 of the 60 given", rep.Frames)
	}
}

func TestBadTuneOptionsAreNamed(t *testing.T) {
	for _, o := range []inspection.TuneOptions{
		{Frames: 10},
		{Labeled: []vision.Sample{}},
		{Trials: -1},
		{Trials: 73},             // the space has 4·3·3·2 points
		{Trials: 25, Epochs: 10}, // and 24 when the epochs are fixed
		{Epochs: -1},
		{Workers: -2},
	} {
		if _, err := inspection.Tune(context.Background(), o); !errors.Is(err, inspection.ErrUsage) {
			t.Errorf("%+v: err = %v, want ErrUsage", o, err)
		}
	}
}

// A trial that fails fails the search, naming the trial.
func TestAFailedTrialFailsTheSearch(t *testing.T) {
	o := smallSearch()
	o.Workers = 100_000
	_, err := inspection.Tune(context.Background(), o)
	if !errors.Is(err, vision.ErrInvalidInput) || !strings.Contains(err.Error(), "trial ") {
		t.Errorf("err = %v, want the trial's vision.ErrInvalidInput", err)
	}
}

// cancelOnWrite cancels the search when it reports its first trial.
type cancelOnWrite struct{ cancel context.CancelFunc }

func (w cancelOnWrite) Write(p []byte) (int, error) {
	w.cancel()
	return len(p), nil
}

func TestASearchStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if rep, err := inspection.Tune(ctx, smallSearch()); !errors.Is(err, context.Canceled) || rep != nil {
		t.Errorf("cancelled before it starts: %v, %v", rep, err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	o := smallSearch()
	o.Progress = cancelOnWrite{cancel}
	if rep, err := inspection.Tune(ctx, o); !errors.Is(err, context.Canceled) || rep != nil {
		t.Errorf("cancelled after a trial: %v, %v", rep, err)
	}
}
