// Package onnxmodel owns the ONNX form of modelkit's models: it writes a
// *modelkit.Linear, *modelkit.MLP or *modelkit.Ensemble, or the image
// defect detector *vision.CNN (float or int8-quantized), as a serialized
// ModelProto, and serves such a model with the pure-Go gonnx runtime.
//
// Every exported graph follows one contract: a single input "features",
// float32 [N, F] with the symbolic batch dimension "N"; a single output
// "probability", float32 [N, 1]; default-domain opset 13 (the only opset
// gonnx v1.1.0 runs) and IR version 8; float32 initializers, except the
// INT8 weights of a quantized CNN; the model family in the doc strings and
// in the metadata key "modelkit.family" ("linear", "mlp", "ensemble",
// "cnn", "cnn-int8"). SetMetadata adds keys such as ThresholdKey, the
// decision threshold a classifier was trained to use; Runtime.Metadata
// reads them.
//
//	data, err := onnxmodel.ExportEnsemble(ens, nFeatures)
//	if err != nil { ... }
//	rt, err := onnxmodel.Load(data)
//	if err != nil { ... }
//	probs, err := rt.Predict(x) // x is a modelkit.Matrix with nFeatures columns
//
// A CNN's features are the pixels of a Size×Size grayscale frame, row by
// row (F = Size²); the graph reshapes them to an image itself, so the
// runtime serves it like any other model:
//
//	data, err := onnxmodel.ExportCNN(cnn) // or ExportQuantized(vision.Quantize(cnn))
//	...
//	probs, err := rt.Predict(x) // x has one row of Size·Size pixels per frame
//
// Precision: the graph computes in float32, so probabilities differ from
// modelkit's float64 Predict by about 1e-7 (a few 1e-6 for a CNN, whose
// sums run over thousands of terms). Tree decisions are exact for
// inputs that are float32-representable (thresholds are rounded up, see
// ExportEnsemble); an input that is not can round across a threshold.
package onnxmodel
