package inspection_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/inspection"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/onnxmodel"
)

// small keeps a run near a few seconds.
func small(out string) inspection.Options {
	return inspection.Options{Out: out, Frames: 400, Pretrain: 600, Epochs: 5, ParityFrames: 16, Seed: 7}
}

func TestARunShipsBothModelsAndItsReport(t *testing.T) {
	out := t.TempDir()
	rep, err := inspection.Run(context.Background(), small(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Models) != 3 || rep.Frames != (inspection.Frames{Pretrain: 600, Train: 320, Validation: 80, Test: 400}) {
		t.Fatalf("report %+v", rep)
	}
	shipped, int8, other := rep.Models[0], rep.Models[1], rep.Models[2]
	if shipped.Name != rep.Shipped || int8.Name != rep.Shipped+"-int8" || other.Name == rep.Shipped ||
		(rep.Shipped != "transfer" && rep.Shipped != "scratch") {
		t.Errorf("shipped %q, models %q %q %q", rep.Shipped, shipped.Name, int8.Name, other.Name)
	}
	if shipped.Test.ROCAUC < 0.85 {
		t.Errorf("shipped model: test ROC AUC %.4f, want at least 0.85", shipped.Test.ROCAUC)
	}
	if d := shipped.Test.ROCAUC - int8.Test.ROCAUC; d > 0.02 || d < -0.02 {
		t.Errorf("int8 ROC AUC %.4f, float %.4f: quantization should cost little", int8.Test.ROCAUC, shipped.Test.ROCAUC)
	}
	if other.ONNX != "" || shipped.ONNX != inspection.FloatModel || int8.ONNX != inspection.Int8Model {
		t.Errorf("files %q %q %q", shipped.ONNX, int8.ONNX, other.ONNX)
	}
	if int8.ONNXBytes >= shipped.ONNXBytes {
		t.Errorf("the int8 model (%d bytes) is not smaller than the float one (%d)", int8.ONNXBytes, shipped.ONNXBytes)
	}
	for _, name := range []string{inspection.FloatModel, inspection.Int8Model} {
		data, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		rt, err := onnxmodel.Load(data)
		if err != nil || rt.Features() != rep.Size*rep.Size {
			t.Fatalf("%s: %v", name, err)
		}
		if v, _ := rt.Metadata(onnxmodel.ThresholdKey); v != strconv.FormatFloat(rep.Threshold, 'g', -1, 64) {
			t.Errorf("%s carries the threshold %q, want %v", name, v, rep.Threshold)
		}
	}
	var onDisk inspection.Report
	data, _ := os.ReadFile(filepath.Join(out, inspection.MetricsFile))
	if err := json.Unmarshal(data, &onDisk); err != nil || onDisk.Threshold != rep.Threshold {
		t.Errorf("metrics.json: %v, threshold %v", err, onDisk.Threshold)
	}
	card, _ := os.ReadFile(filepath.Join(out, inspection.ModelCard))
	if !bytes.Contains(card, []byte("transfer-int8")) || !bytes.Contains(card, []byte("first layer frozen")) {
		t.Errorf("model card:\n%s", card)
	}
}

// The same options write the same bytes: the generated project's training
// command reproduces the shipped models.
func TestARunIsReproducible(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, out := range []string{a, b} {
		if _, err := inspection.Run(context.Background(), small(out)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{inspection.FloatModel, inspection.Int8Model, inspection.MetricsFile, inspection.HistoryFile, inspection.ModelCard} {
		x, _ := os.ReadFile(filepath.Join(a, name))
		y, _ := os.ReadFile(filepath.Join(b, name))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs (%d and %d bytes)", name, len(x), len(y))
		}
	}
}

func TestBadOptionsAreNamed(t *testing.T) {
	for _, o := range []inspection.Options{
		{},
		{Out: t.TempDir(), Frames: 10},
		{Out: t.TempDir(), Freeze: 4},
		{Out: t.TempDir(), Epochs: -1},
	} {
		if _, err := inspection.Run(context.Background(), o); !errors.Is(err, inspection.ErrUsage) {
			t.Errorf("%+v: err = %v, want ErrUsage", o, err)
		}
	}
}
