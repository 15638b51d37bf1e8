package builtin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/engine"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/tabular"
)

// modelsDir is where the trained models and their reports live in the
// generated tree.
const modelsDir = "artifacts/models"

// modelkitDir is where the generated project keeps its copy of the model
// engine.
const modelkitDir = "internal/modelkit"

func scaffold(_ context.Context, _ *specialists.Request, p *churnParams) ([]artifacts.File, string, error) {
	return goModFiles(p.Module), "", nil
}

// featurePipelines reads the data's columns as the trainer will, so the
// generated groups name exactly the models' inputs.
func featurePipelines(ctx context.Context, req *specialists.Request, p *churnParams) ([]artifacts.File, string, error) {
	data, err := materialize(ctx, req, p)
	if err != nil {
		return nil, "", err
	}
	step, ids, err := engine.FeatureStep(engineOptions(p, data, ""))
	if err != nil {
		return nil, "", dataError(err)
	}
	p.Schema = buildSchema(step, ids)
	counts := make([]string, len(p.Schema.Groups))
	for i, g := range p.Schema.Groups {
		counts[i] = fmt.Sprintf("%d %s", len(g.Columns), g.Name)
	}
	id := "no customer id column"
	if p.Schema.IDColumn != "" {
		id = "customer id " + p.Schema.IDColumn
	}
	return nil, fmt.Sprintf("columns: %s; %s", strings.Join(counts, ", "), id), nil
}

// trainModels runs the model engine on the job's data and ships its
// outputs under artifacts/models, with the engine's code under
// internal/modelkit so that models/training/cmd/train reproduces them.
func trainModels(ctx context.Context, req *specialists.Request, p *churnParams) ([]artifacts.File, string, error) {
	data, err := materialize(ctx, req, p)
	if err != nil {
		return nil, "", err
	}
	work, err := req.Workdir()
	if err != nil {
		return nil, "", err
	}
	out := filepath.Join(work, "models")
	opts := engineOptions(p, data, out)
	p.Trials = opts.Trials
	rep, err := engine.Run(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", err
		}
		return nil, "", dataError(err)
	}
	files, err := shippedModels(out, p.Module)
	if err != nil {
		return nil, "", err
	}
	scores := make([]string, len(rep.Models))
	for i, m := range rep.Models {
		scores[i] = fmt.Sprintf("%s %.4f", m.Name, m.Test.ROCAUC)
	}
	return files, fmt.Sprintf("test ROC AUC %s; best on validation %s; %d trials per family on %d rows",
		strings.Join(scores, ", "), rep.Best, opts.Trials, data.rows), nil
}

// shippedModels are the files a training run wrote into out, under
// artifacts/models, and the model engine's sources as the generated
// module's internal/modelkit, so that the project retrains them.
func shippedModels(out, module string) ([]artifacts.File, error) {
	files, err := readTree(out, modelsDir)
	if err != nil {
		return nil, err
	}
	kit, err := modelkitFiles(module)
	if err != nil {
		return nil, err
	}
	return append(files, kit...), nil
}

// modelkitFiles are the model engine's sources as the generated module's
// internal/modelkit.
func modelkitFiles(module string) ([]artifacts.File, error) {
	src, err := modelkit.Source(module + "/" + modelkitDir)
	if err != nil {
		return nil, specialists.Permanent(fmt.Errorf("model engine source: %w", err))
	}
	files := make([]artifacts.File, 0, len(src))
	for _, name := range slices.Sorted(maps.Keys(src)) {
		files = append(files, artifacts.File{Path: path.Join(modelkitDir, name), Data: src[name], Mode: 0o644})
	}
	return files, nil
}

// dataError makes the engine's complaints about the data permanent: the
// same data fails the same way on every retry.
func dataError(err error) error {
	if errors.Is(err, tabular.ErrBadData) || errors.Is(err, engine.ErrUsage) {
		return specialists.Permanent(err)
	}
	return err
}

// readTree reads every file under dir as artifacts under prefix.
func readTree(dir, prefix string) ([]artifacts.File, error) {
	var files []artifacts.File
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, artifacts.File{Path: path.Join(prefix, filepath.ToSlash(rel)), Data: data, Mode: 0o644})
		return nil
	})
	return files, err
}
