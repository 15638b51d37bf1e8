package inspection

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/vision"
)

// DefaultTrials is the number of trials of a search when TuneOptions names
// none: a twelfth of the space, which keeps a search on the default frames
// to seconds.
const DefaultTrials = 6

// searchSpace is the space of Tune, fresh for each report. The learning
// rates bracket Train's default (0.003); the channel widths go from half
// the shipped network to a wider last layer; the epochs are the job's 8
// and two shorter runs, which would make retraining cheaper.
func searchSpace() SearchSpace {
	return SearchSpace{
		LearningRates: []float64{0.001, 0.002, 0.003, 0.005},
		Channels:      [][]int{{4, 8, 8}, {8, 16, 16}, {8, 16, 32}},
		Epochs:        []int{4, 6, 8},
		BatchSizes:    []int{16, 32},
	}
}

// TuneOptions configure a hyperparameter search. Zero values mean the
// documented defaults.
type TuneOptions struct {
	// Labeled are the frames the trials train (80%) and are scored on
	// (20%), in that order; nil means Frames synthetic frames of the
	// brushed surface, the same ones Run trains on for the same Seed.
	Labeled []vision.Sample
	// Frames is the number of synthetic frames; 0 means 1200.
	Frames int
	// Trials is the number of distinct points of the space tried; 0 means
	// DefaultTrials.
	Trials int
	// Epochs, when set, trains every trial for that many epochs instead
	// of searching over 4, 6 and 8.
	Epochs int
	// Workers shard each minibatch of a trial (see vision.Config.Workers);
	// the result is reproducible for a given value. 0 means 1. Trials run
	// concurrently on the cores Workers leave, which changes nothing in
	// the report.
	Workers int
	// Seed picks the trials, the synthetic frames and each trial's
	// initialization and augmentation.
	Seed uint64
	// Progress receives a line per finished trial, in the order they
	// finish; nil discards them.
	Progress io.Writer
}

// Trial is one point of the search and how the network trained with it
// did on the validation frames.
type Trial struct {
	// Number counts the trials from 1, in the order they were drawn.
	Number       int     `json:"number"`
	LearningRate float64 `json:"learning_rate"`
	Channels     []int   `json:"channels"`
	Epochs       int     `json:"epochs"`
	BatchSize    int     `json:"batch_size"`
	// BestEpoch is the epoch of lowest validation loss, whose model
	// vision.Train keeps; ValidAUC and ValidLoss are that epoch's.
	BestEpoch int            `json:"best_epoch"`
	ValidAUC  float64        `json:"valid_auc"`
	ValidLoss float64        `json:"valid_loss"`
	History   []vision.Epoch `json:"history"`
}

// TuneReport is the result of a search, tuning.json in the generated
// project. The same TuneOptions give the same report, to the byte once
// encoded.
type TuneReport struct {
	Seed    uint64      `json:"seed"`
	Workers int         `json:"workers"`
	Frames  TuneFrames  `json:"frames"`
	Space   SearchSpace `json:"space"`
	Trials  []Trial     `json:"trials"`
	// Best is the index in Trials of the trial of highest validation ROC
	// AUC, ties going to the lower validation loss, then to the earlier
	// trial.
	Best int `json:"best"`
}

// BestTrial returns Trials[Best].
func (r *TuneReport) BestTrial() Trial { return r.Trials[r.Best] }

// TuneFrames counts the frames the trials train and are scored on.
type TuneFrames struct {
	Train      int `json:"train"`
	Validation int `json:"validation"`
}

// SearchSpace is the values a search draws its trials from; a trial is
// one value of each.
type SearchSpace struct {
	LearningRates []float64 `json:"learning_rates"`
	Channels      [][]int   `json:"channels"`
	Epochs        []int     `json:"epochs"`
	BatchSizes    []int     `json:"batch_sizes"`
}

// size is the number of distinct trials the space holds.
func (s SearchSpace) size() int {
	return len(s.LearningRates) * len(s.Channels) * len(s.Epochs) * len(s.BatchSizes)
}

// point decodes the i-th trial of the space, i in [0, size()).
func (s SearchSpace) point(i int) Trial {
	t := Trial{LearningRate: s.LearningRates[i%len(s.LearningRates)]}
	i /= len(s.LearningRates)
	t.Channels = slices.Clone(s.Channels[i%len(s.Channels)])
	i /= len(s.Channels)
	t.Epochs = s.Epochs[i%len(s.Epochs)]
	i /= len(s.Epochs)
	t.BatchSize = s.BatchSizes[i]
	return t
}

// tuneStream tells the search's random stream apart from the others drawn
// from the same seed (the frames', each training's).
const tuneStream = 0x7475_6e65

// Tune searches learning rate, channels, epochs and batch size of the
// defect CNN at random: it draws Trials distinct points of the space,
// trains a network from scratch with each on the first 80% of the labeled
// frames (with Run's augmentation and seed, so that a trial with Run's
// hyperparameters trains Run's scratch model) and scores it on the other
// 20%. Floats are rounded to 6 digits.
//
// Errors in the options wrap ErrUsage; a trial that fails fails the search.
// When ctx is done, Tune stops the trials between minibatches and returns
// ctx's error.
func Tune(ctx context.Context, opts TuneOptions) (*TuneReport, error) {
	o, space, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	labeled := o.Labeled
	if labeled == nil {
		if labeled, err = vision.Synthesize(vision.SynthConfig{N: o.Frames, Surface: vision.Brushed, Seed: o.Seed}); err != nil {
			return nil, err
		}
	}
	cut := len(labeled) * 4 / 5
	train, valid := labeled[:cut], labeled[cut:]

	// Distinct points: a repeated one would spend a trial learning nothing.
	rng := rand.New(rand.NewPCG(o.Seed, tuneStream))
	trials := make([]Trial, o.Trials)
	for i, p := range rng.Perm(space.size())[:o.Trials] {
		trials[i] = space.point(p)
		trials[i].Number = i + 1
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex // guards firstErr and progress
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan int, len(trials))
	for i := range trials {
		next <- i
	}
	close(next)
	// Each trial is independent of the others' timing, so running them at
	// once changes how long the search takes, not what it finds.
	for range min(max(runtime.GOMAXPROCS(0)/o.Workers, 1), len(trials)) {
		wg.Go(func() {
			for i := range next {
				if runCtx.Err() != nil {
					return
				}
				t := &trials[i]
				err := t.train(runCtx, train, valid, labeled[0].Image.Size, o.Workers, o.Seed)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("trial %d (%s): %w", t.Number, t.describe(), err)
					cancel()
				} else if err == nil {
					fmt.Fprintf(progress, "trial %d/%d: %s: validation ROC AUC %.4f, loss %.4f\n",
						t.Number, len(trials), t.describe(), t.ValidAUC, t.ValidLoss)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if firstErr != nil {
		return nil, firstErr
	}
	rep := &TuneReport{Seed: o.Seed, Workers: o.Workers, Frames: TuneFrames{Train: len(train), Validation: len(valid)},
		Space: space, Trials: trials}
	for i := range trials {
		if better(trials[i], trials[rep.Best]) {
			rep.Best = i
		}
	}
	return rep, nil
}

// better reports whether a beats b: a higher validation ROC AUC, or the
// same and a lower validation loss. Equal trials keep the earlier one.
func better(a, b Trial) bool {
	if c := cmp.Compare(a.ValidAUC, b.ValidAUC); c != 0 {
		return c > 0
	}
	return a.ValidLoss < b.ValidLoss
}

// train fills in the trial's history and scores.
func (t *Trial) train(ctx context.Context, train, valid []vision.Sample, size, workers int, seed uint64) error {
	cfg := vision.Config{Size: size, Channels: t.Channels, Epochs: t.Epochs, BatchSize: t.BatchSize,
		LearningRate: t.LearningRate, Augment: jobAugment(), Workers: workers, Seed: seed}
	_, history, err := vision.Train(ctx, train, valid, cfg, nil)
	if err != nil {
		return err
	}
	for i := range history {
		e := &history[i]
		e.TrainLoss, e.ValidLoss, e.ValidAUC = round(e.TrainLoss, 6), round(e.ValidLoss, 6), round(e.ValidAUC, 6)
	}
	// The first epoch of lowest loss, as Train picks its model.
	best := history[0]
	for _, e := range history[1:] {
		if e.ValidLoss < best.ValidLoss {
			best = e
		}
	}
	t.History, t.BestEpoch, t.ValidAUC, t.ValidLoss = history, best.Epoch, best.ValidAUC, best.ValidLoss
	return nil
}

func (t *Trial) describe() string {
	return fmt.Sprintf("lr %g, channels %v, %d epochs, batch %d", t.LearningRate, t.Channels, t.Epochs, t.BatchSize)
}

// jobAugment is the training's augmentation: flips only. A quarter turn
// would make the grain of brushed parts run the wrong way, which no
// camera on the line sees; the network removes each frame's mean, so a
// brightness offset teaches nothing; and sensor noise drowns the faint
// scratches. Measured on the default 1200 frames (seed 42), test ROC AUC
// from scratch: 0.905 with all of them, 0.972 with flips only.
func jobAugment() *vision.Augment {
	return &vision.Augment{FlipH: true, FlipV: true}
}

func (o TuneOptions) withDefaults() (TuneOptions, SearchSpace, error) {
	if o.Frames == 0 {
		o.Frames = DefaultFrames
	}
	if o.Labeled != nil {
		o.Frames = len(o.Labeled)
	}
	if o.Trials == 0 {
		o.Trials = DefaultTrials
	}
	if o.Workers == 0 {
		o.Workers = 1
	}
	space := searchSpace()
	if o.Epochs > 0 {
		space.Epochs = []int{o.Epochs}
	}
	switch {
	case o.Frames < 50:
		return o, space, fmt.Errorf("%w: %d labeled frames; want at least 50", ErrUsage, o.Frames)
	case o.Trials < 1 || o.Trials > space.size():
		return o, space, fmt.Errorf("%w: %d trials; want 1 to %d, the distinct points of the search space", ErrUsage, o.Trials, space.size())
	case o.Epochs < 0 || o.Workers < 1:
		return o, space, fmt.Errorf("%w: epochs %d and workers %d; want epochs 0 (search) or more, workers 1 or more", ErrUsage, o.Epochs, o.Workers)
	}
	return o, space, nil
}
