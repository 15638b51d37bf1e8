// Package onnxmodel owns the ONNX form of modelkit's models: it writes a
// *modelkit.Linear, *modelkit.MLP or *modelkit.Ensemble as a serialized
// ModelProto, and serves such a model with the pure-Go gonnx runtime.
//
// Every exported graph follows one contract: a single input "features",
// float32 [N, F] with the symbolic batch dimension "N"; a single output
// "probability", float32 [N, 1]; default-domain opset 13 (the only opset
// gonnx v1.1.0 runs) and IR version 8; float32 initializers; the model
// family in the doc strings and in the metadata key "modelkit.family".
//
//	data, err := onnxmodel.ExportEnsemble(ens, nFeatures)
//	if err != nil { ... }
//	rt, err := onnxmodel.Load(data)
//	if err != nil { ... }
//	probs, err := rt.Predict(x) // x is a modelkit.Matrix with nFeatures columns
//
// Precision: the graph computes in float32, so probabilities differ from
// modelkit's float64 Predict by about 1e-7. Tree decisions are exact for
// inputs that are float32-representable (thresholds are rounded up, see
// ExportEnsemble); an input that is not can round across a threshold.
package onnxmodel
