package builtin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/inspection"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/vision"
)

// The defect scenario: a computer-vision quality-control system for
// manufacturing with edge deployment. Its skills generate a Go module that
// ingests camera frames, runs a labeling workflow, trains a small CNN by
// transfer learning, quantizes it to int8 for edge devices, tracks
// experiments in MLflow and updates devices over the air.

// defectParamDefaults are the answers assumed for a defect-detection goal
// planned without questions: 100K frames a day across the lines, a 50 ms
// budget per frame on the device, weekly retraining, AWS IoT Greengrass.
var defectParamDefaults = map[string]string{
	"module":     "defect-qc",
	"volume":     "100K",
	"latency_ms": "50",
	"retraining": "weekly",
	"infra":      "aws",
	"seed":       "42",
	"images":     "1200",
}

// defectParamNames are the params every defect skill reads.
var defectParamNames = []string{"module", "volume", "latency_ms", "retraining", "infra", "seed", "images"}

// Labeled images the model trains on: enough for the small network to
// learn, few enough that a job stays near a minute.
const (
	minDefectImages = 200
	maxDefectImages = 200_000
)

// defectParams is what the defect scenario's templates see.
type defectParams struct {
	Module string
	// Volume is the frames inspected per day as given (100K); FramesPerDay
	// is its value.
	Volume       string
	FramesPerDay int64
	// LatencyMS is the budget of one frame's inference on the device.
	LatencyMS  int
	Retraining string // daily, weekly or monthly
	Schedule   string // EventBridge cron expression of Retraining
	Cron       string // the same schedule as a five-field cron expression
	// Infra is aws (IoT Greengrass components) or kubernetes (k3s on the
	// edge nodes).
	Infra string
	Seed  uint64
	// ImageSize is the side of the square grayscale frames the model reads.
	ImageSize int
	// Images is the number of labeled frames the model trains on.
	Images int
}

// defaultImageSize is the side of the frames the network reads; ingestion
// crops and downsamples camera frames to it.
const defaultImageSize = 24

// parseDefectParams fills the defaults in, refuses params the scenario
// does not read, and validates every value; errors are permanent.
func parseDefectParams(skill string, in map[string]string) (*defectParams, error) {
	vals := map[string]string{}
	for k, v := range defectParamDefaults {
		vals[k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(in)) {
		if !slices.Contains(defectParamNames, k) {
			return nil, specialists.Permanent(fmt.Errorf("skill %s: unknown param %q (accepted: %s)", skill, k, strings.Join(defectParamNames, ", ")))
		}
		vals[k] = strings.TrimSpace(in[k])
	}
	bad := func(name, want string) error {
		return specialists.Permanent(fmt.Errorf("skill %s: param %s=%q: want %s", skill, name, vals[name], want))
	}
	p := &defectParams{Module: vals["module"], Volume: vals["volume"], ImageSize: defaultImageSize}
	if !validModulePath(p.Module) {
		return nil, bad("module", "a Go module path such as defect-qc or example.com/qc")
	}
	var err error
	if p.FramesPerDay, err = ParseVolume(p.Volume); err != nil {
		return nil, bad("volume", "a number of frames per day such as 50000, 100K or 2M")
	}
	ms, err := strconv.Atoi(vals["latency_ms"])
	if err != nil || ms < 1 || ms > 60000 {
		return nil, bad("latency_ms", "a whole number of milliseconds from 1 to 60000")
	}
	p.LatencyMS = ms
	p.Retraining = strings.ToLower(vals["retraining"])
	sched, ok := schedules[p.Retraining]
	if !ok {
		return nil, bad("retraining", "daily, weekly or monthly")
	}
	p.Schedule, p.Cron = sched[0], sched[1]
	switch p.Infra = strings.ToLower(vals["infra"]); p.Infra {
	case "aws", "kubernetes":
	default:
		return nil, bad("infra", "aws (IoT Greengrass) or kubernetes (k3s on the edge nodes)")
	}
	if p.Seed, err = strconv.ParseUint(vals["seed"], 10, 64); err != nil {
		return nil, bad("seed", "a non-negative whole number")
	}
	n, err := strconv.Atoi(vals["images"])
	if err != nil || n < minDefectImages || n > maxDefectImages {
		return nil, bad("images", fmt.Sprintf("a number of labeled frames from %d to %d", minDefectImages, maxDefectImages))
	}
	p.Images = n
	return p, nil
}

// defectSkill is one skill of the defect scenario; its templates live
// under templates/defect/<name>/.
type defectSkill struct {
	role, name, what string
	// generate, when set, makes files beyond the templates.
	generate func(ctx context.Context, req *specialists.Request, p *defectParams) (files []artifacts.File, summary string, err error)
	// infraTemplates adds the folder <name>-<infra> to the skill's own.
	infraTemplates bool
}

// defectSkills are the skills of the defect plan; planner.Decompose makes
// one subtask of each.
var defectSkills = []defectSkill{
	{role: specialists.RoleMLArchitect, name: "qc-scaffold", generate: defectScaffold,
		what: "project scaffold: go.mod, orchestrate.yaml, README and architecture decisions"},
	{role: specialists.RoleMLArchitect, name: "cnn-model", generate: cnnModel,
		what: "defect detection CNN pretrained on another surface and fine-tuned on the labeled frames, against the same network from scratch, quantized to int8, as ONNX, with the training code"},
	{role: specialists.RoleDataPipeline, name: "image-pipeline",
		what: "image ingestion from cameras, the labeling workflow and the augmentation pipeline"},
	{role: specialists.RoleDataScience, name: "training-infra", infraTemplates: true, generate: trainingInfra,
		what: "training jobs, experiment tracking with MLflow and hyperparameter tuning"},
	{role: specialists.RoleCloudArchitect, name: "edge-deployment", infraTemplates: true,
		what: "edge device setup, over-the-air model updates and the on-device inference service"},
}

// cnnModel trains the defect model with the kit's inspection job and
// ships its outputs under artifacts/models, with the kit's code under
// internal/modelkit so that models/cnn/cmd/train reproduces them.
func cnnModel(ctx context.Context, req *specialists.Request, p *defectParams) ([]artifacts.File, string, error) {
	work, err := req.Workdir()
	if err != nil {
		return nil, "", err
	}
	out := filepath.Join(work, "models")
	rep, err := inspection.Run(ctx, inspection.Options{Out: out, Frames: p.Images, Seed: p.Seed})
	if err != nil {
		return nil, "", visionError(ctx, err)
	}
	files, err := shippedModels(out, p.Module)
	if err != nil {
		return nil, "", err
	}
	m := rep.Models
	return files, fmt.Sprintf("shipped %s: test ROC AUC %.4f, int8 %.4f (%d of %d bytes); %s %.4f; %d labeled frames, %d pretraining",
		rep.Shipped, m[0].Test.ROCAUC, m[1].Test.ROCAUC, m[1].ONNXBytes, m[0].ONNXBytes, m[2].Name, m[2].Test.ROCAUC,
		rep.Frames.Train+rep.Frames.Validation, rep.Frames.Pretrain), nil
}

// visionError makes the vision kit's complaints about its options
// permanent: the same params fail the same way on every retry.
func visionError(ctx context.Context, err error) error {
	if ctx.Err() == nil && (errors.Is(err, inspection.ErrUsage) || errors.Is(err, vision.ErrInvalidInput)) {
		return specialists.Permanent(err)
	}
	return err
}

func defectScaffold(_ context.Context, _ *specialists.Request, p *defectParams) ([]artifacts.File, string, error) {
	return goModFiles(p.Module), "", nil
}

func (s defectSkill) run(ctx context.Context, req *specialists.Request) (*specialists.Result, error) {
	parse := func(in map[string]string) (*defectParams, error) { return parseDefectParams(s.name, in) }
	dirs := func(p *defectParams) []string {
		if s.infraTemplates {
			return []string{"defect/" + s.name, "defect/" + s.name + "-" + p.Infra}
		}
		return []string{"defect/" + s.name}
	}
	return generateSkill(ctx, req, s.what, parse, s.generate, dirs)
}
