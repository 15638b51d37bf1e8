package planner

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// Labeled camera frames the defect model trains on: the skill's bounds.
const (
	minDefectImages = 200
	maxDefectImages = 200_000
)

// defectPlan is the plan of our users' computer-vision example: data
// pipeline, model development, training infrastructure and edge
// deployment, each owned by the role the example names. The model trains
// on synthetic camera frames; Dataset.Rows sets how many are labeled.
func defectPlan(goal string, answers map[string]string, data Dataset) (*Plan, error) {
	p, err := parseAnswers(answers, "camera frames per day", "aws (IoT Greengrass) or kubernetes (k3s on the edge nodes)")
	if err != nil {
		return nil, err
	}
	switch {
	case data.Train != "" || data.Test != "":
		return nil, errors.New("the defect scenario trains on synthetic camera frames; --data and --test are for tabular scenarios such as churn")
	case data.Target != "" || data.Positive != "":
		return nil, errors.New("the defect scenario labels frames ok, scratch, spot or crack; --target and --positive are for tabular scenarios such as churn")
	case data.Rows != 0 && (data.Rows < minDefectImages || data.Rows > maxDefectImages):
		return nil, fmt.Errorf("%d labeled frames: want %d to %d", data.Rows, minDefectImages, maxDefectImages)
	}
	seed := data.Seed
	if seed == 0 {
		seed = DefaultSeed
	}
	common := map[string]string{
		"module": "defect-qc", "volume": p.volume, "latency_ms": p.latencyMS, "retraining": p.retraining,
		"infra": p.infra, "seed": strconv.FormatUint(seed, 10),
	}
	if data.Rows != 0 {
		common["images"] = strconv.Itoa(data.Rows)
	}
	task := func(id, title, role, instructions string, deps ...string) Subtask {
		return Subtask{ID: id, Title: title, Role: role, Skill: id, Instructions: instructions,
			Params: maps.Clone(common), DependsOn: deps, Priority: broker.Normal}
	}
	edgeRuntime := "AWS IoT Greengrass components"
	if p.infra == "kubernetes" {
		edgeRuntime = "a k3s DaemonSet on the line's edge nodes"
	}
	model := task("cnn-model", "Model development: CNN architecture design, transfer learning implementation, model optimization for edge", specialists.RoleMLArchitect,
		"Design a small CNN for grayscale frames, pretrain its backbone on another surface and fine-tune it on the labeled frames, quantize it to int8 for the devices, export both as ONNX and ship the code that reproduces them.",
		"image-pipeline")
	// Pretraining and fine-tuning on many frames take minutes.
	model.Timeout = time.Hour
	tuning := task("training-infra", "Training infrastructure: distributed training setup, experiment tracking with MLflow, hyperparameter tuning", specialists.RoleDataScience,
		"Data-parallel training jobs sized to the training nodes and run "+p.retraining+", every run tracked in MLflow, and a hyperparameter search over learning rate, width and epochs.",
		"cnn-model")
	tuning.Timeout = time.Hour
	phases := []Phase{
		{Name: "Data Pipeline", Days: "1-2", Subtasks: []Subtask{
			task("qc-scaffold", "Project scaffold and architecture decisions", specialists.RoleMLArchitect,
				"Lay out the module, its test command and the decisions on frame volume, on-device latency, retraining and the edge runtime."),
			task("image-pipeline", "Data pipeline setup: image ingestion from cameras, data labeling workflow, augmentation pipeline", specialists.RoleDataPipeline,
				"Ingest PNG frames from the line cameras ("+p.volume+" a day) into a content-addressed store, run a two-labeler workflow with adjudication and active learning, and expand the labeled set by augmentation.",
				"qc-scaffold"),
		}},
		{Name: "Model Development", Days: "3-4", Subtasks: []Subtask{model}},
		{Name: "Training Infrastructure", Days: "5", Subtasks: []Subtask{tuning}},
		{Name: "Edge Deployment", Days: "6-7", Subtasks: []Subtask{
			task("edge-deployment", "Edge deployment: model quantization, edge device setup, OTA update mechanism", specialists.RoleCloudArchitect,
				"Serve the int8 model on the devices within "+p.latencyMS+" ms per frame, provision them with "+edgeRuntime+", and roll out signed model updates over the air with automatic rollback.",
				"cnn-model"),
		}},
	}
	collect := collectTask(phases)
	last := &phases[len(phases)-1]
	last.Subtasks = append(last.Subtasks, collect)
	return &Plan{Name: "defect-detection-qc", Goal: goal, Answers: answers, Phases: phases}, nil
}
