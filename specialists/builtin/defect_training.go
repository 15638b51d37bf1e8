package builtin

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/inspection"
)

// tuningReport is where the generated project keeps the search's report;
// training/tuning.ReportFile names the same path, and its test checks the
// file is what training/cmd/tune writes.
const tuningReport = "experiments/tuning.json"

// trainingInfra runs the hyperparameter search of the defect CNN on the
// frames the cnn-model skill trains on (the same synthetic frames for the
// same images and seed) and ships its report, which the generated
// training/cmd/tune reproduces byte for byte.
func trainingInfra(ctx context.Context, _ *specialists.Request, p *defectParams) ([]artifacts.File, string, error) {
	rep, err := inspection.Tune(ctx, inspection.TuneOptions{Frames: p.Images, Seed: p.Seed})
	if err != nil {
		return nil, "", visionError(ctx, err)
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, "", err
	}
	best := rep.BestTrial()
	summary := fmt.Sprintf("hyperparameter search: %d trials, best lr %g channels %v %d epochs batch %d, validation ROC AUC %.4f on %d frames",
		len(rep.Trials), best.LearningRate, best.Channels, best.Epochs, best.BatchSize, best.ValidAUC, rep.Frames.Validation)
	return []artifacts.File{{Path: tuningReport, Data: append(data, '\n'), Mode: 0o644}}, summary, nil
}
