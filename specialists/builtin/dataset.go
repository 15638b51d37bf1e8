package builtin

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/engine"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/synth"
)

// syntheticTarget is the label column of the synthetic churn data.
const syntheticTarget = "Exited"

// dataFiles are the job's data, written where the engine can read them.
type dataFiles struct {
	train, test string
	rows        int // data rows of the training file
}

// materialize writes the job's data into the request's workdir: the
// blobs of the artifact store, or freshly generated synthetic customers.
func materialize(ctx context.Context, req *specialists.Request, p *churnParams) (*dataFiles, error) {
	dir, err := req.Workdir()
	if err != nil {
		return nil, err
	}
	d := p.Data
	if d.Synthetic() {
		if p.Target != syntheticTarget {
			return nil, specialists.Permanent(fmt.Errorf("param target=%q: synthetic churn data labels %s; give data to use another target", p.Target, syntheticTarget))
		}
		path := filepath.Join(dir, "synthetic-churn.csv")
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		err = synth.Churn(w, d.Rows, p.Seed)
		if err == nil {
			err = w.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("generate synthetic data: %w", err)
		}
		return &dataFiles{train: path, rows: d.Rows}, nil
	}
	if req.Artifacts == nil {
		return nil, specialists.Permanent(fmt.Errorf("the job's data is blob %s, but this worker has no artifact store", d.Train))
	}
	out := &dataFiles{}
	for _, in := range []struct {
		digest, name string
		dst          *string
	}{{d.Train, d.TrainName, &out.train}, {d.Test, d.TestName, &out.test}} {
		if in.digest == "" {
			continue
		}
		data, err := req.Artifacts.Blob(ctx, in.digest)
		if err != nil {
			return nil, fmt.Errorf("read data %s (blob %s): %w", in.name, in.digest, err)
		}
		*in.dst = filepath.Join(dir, in.name)
		if err := os.WriteFile(*in.dst, data, 0o600); err != nil {
			return nil, err
		}
		if in.dst == &out.train {
			out.rows = max(bytes.Count(data, []byte{'\n'})-1, 0)
		}
	}
	return out, nil
}

// trials is the random search's size per model family: the engine's
// default where a trial takes seconds, fewer where it takes minutes.
func trials(rows int) int {
	switch {
	case rows <= 100_000:
		return 8
	case rows <= 300_000:
		return 4
	default:
		return 2
	}
}

// engineOptions are the options of the training run for the job's data,
// the same the generated models/training/cmd/train uses by default.
func engineOptions(p *churnParams, f *dataFiles, out string) engine.Options {
	return engine.Options{
		Data: f.train, Test: f.test, Target: p.Target, Positive: p.Data.Positive,
		Trials: trials(f.rows), Seed: p.Seed, Out: out,
	}
}
