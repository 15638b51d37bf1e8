package onnxmodel_test

import (
	"bytes"
	"testing"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/onnxmodel"
)

func TestMetadataTravelsWithTheModel(t *testing.T) {
	data, err := onnxmodel.ExportLinear(&modelkit.Linear{Weights: []float64{0.5, -1}, Bias: 0.1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	once, err := onnxmodel.SetMetadata(data, onnxmodel.ThresholdKey, "0.42")
	if err != nil {
		t.Fatal(err)
	}
	twice, err := onnxmodel.SetMetadata(once, onnxmodel.ThresholdKey, "0.37")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := onnxmodel.SetMetadata(once, onnxmodel.ThresholdKey, "0.37")
	if !bytes.Equal(twice, again) {
		t.Error("the same metadata gave different bytes")
	}
	rt, err := onnxmodel.Load(twice)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := rt.Metadata(onnxmodel.ThresholdKey); !ok || v != "0.37" {
		t.Errorf("threshold %q (%v), want the last value set", v, ok)
	}
	if rt.Family() != "linear" {
		t.Errorf("family %q: setting metadata lost the family", rt.Family())
	}
	if _, err := onnxmodel.SetMetadata([]byte("not a model"), "k", "v"); err == nil {
		t.Error("garbage was accepted")
	}
}
