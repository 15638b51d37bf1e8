package onnxmodel

import (
	"fmt"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
)

// ExportLinear writes m as logit = Gemm(features, W, b); probability =
// Sigmoid(logit), with W the weights as an [nFeatures, 1] column (zero
// past len(m.Weights)). Weights and bias are rounded to float32.
func ExportLinear(m *modelkit.Linear, nFeatures int) ([]byte, error) {
	if m == nil {
		return nil, fmt.Errorf("export linear: nil model: %w", ErrInvalidModel)
	}
	if nFeatures <= 0 || len(m.Weights) > nFeatures {
		return nil, fmt.Errorf("export linear: %d weights for %d features (nFeatures must be positive and at least the weight count): %w",
			len(m.Weights), nFeatures, ErrInvalidModel)
	}
	w := make([]float32, nFeatures)
	copy(w, toFloat32(m.Weights))

	var g graphBuilder
	logit := g.gemm("logit", inputName,
		g.constant("weights", []int64{int64(nFeatures), 1}, w),
		g.constant("bias", []int64{1}, []float32{float32(m.Bias)}))
	g.op("Sigmoid", outputName, logit)
	doc := fmt.Sprintf("modelkit logistic regression over %d features: probability = Sigmoid(features·W + b)", nFeatures)
	return g.model(familyLinear, doc, nFeatures)
}

// ExportMLP writes m as one Gemm per layer, each followed by Relu when the
// layer has ReLU set, and a final Sigmoid. The feature count is the first
// layer's In. Each W is stored transposed, [In, Out], so that no node
// transposes at run time.
func ExportMLP(m *modelkit.MLP) ([]byte, error) {
	if err := validateMLP(m); err != nil {
		return nil, fmt.Errorf("export mlp: %w", err)
	}
	var g graphBuilder
	cur := inputName
	for i, l := range m.Layers {
		wt := make([]float32, l.In*l.Out)
		for o := 0; o < l.Out; o++ {
			for in := 0; in < l.In; in++ {
				wt[in*l.Out+o] = float32(l.W[o*l.In+in])
			}
		}
		cur = g.gemm(fmt.Sprintf("layer%d", i), cur,
			g.constant(fmt.Sprintf("layer%d_weights", i), []int64{int64(l.In), int64(l.Out)}, wt),
			g.constant(fmt.Sprintf("layer%d_bias", i), []int64{int64(l.Out)}, toFloat32(l.B)))
		if l.ReLU {
			cur = g.op("Relu", fmt.Sprintf("layer%d_relu", i), cur)
		}
	}
	g.op("Sigmoid", outputName, cur)
	doc := fmt.Sprintf("modelkit multilayer perceptron, %d layers over %d features: probability = Sigmoid(last layer)",
		len(m.Layers), m.Layers[0].In)
	return g.model(familyMLP, doc, m.Layers[0].In)
}

func validateMLP(m *modelkit.MLP) error {
	if m == nil || len(m.Layers) == 0 {
		return fmt.Errorf("no layers: %w", ErrInvalidModel)
	}
	for i, l := range m.Layers {
		switch {
		case l.In <= 0 || l.Out <= 0:
			return fmt.Errorf("layer %d is %dx%d: %w", i, l.Out, l.In, ErrInvalidModel)
		case len(l.W) != l.In*l.Out || len(l.B) != l.Out:
			return fmt.Errorf("layer %d has %d weights and %d biases for %dx%d: %w",
				i, len(l.W), len(l.B), l.Out, l.In, ErrInvalidModel)
		case i > 0 && l.In != m.Layers[i-1].Out:
			return fmt.Errorf("layer %d takes %d inputs but layer %d gives %d: %w",
				i, l.In, i-1, m.Layers[i-1].Out, ErrInvalidModel)
		}
	}
	if last := m.Layers[len(m.Layers)-1]; last.Out != 1 {
		return fmt.Errorf("last layer has %d outputs, want 1 (the logit): %w", last.Out, ErrInvalidModel)
	}
	return nil
}
