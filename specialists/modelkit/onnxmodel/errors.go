package onnxmodel

import "errors"

var (
	// ErrInvalidModel is returned by the Export functions when the
	// modelkit form is inconsistent: weight counts that do not match the
	// feature count, a child index out of range, a tree node reached twice.
	ErrInvalidModel = errors.New("onnxmodel: invalid model")

	// ErrInvalidGraph is returned by Load when the bytes are not a
	// serialized ModelProto following this package's graph contract (one
	// float32 input "features" [N, F], one output "probability", opset 13).
	ErrInvalidGraph = errors.New("onnxmodel: invalid graph")

	// ErrFeatureCount is returned by Predict when the matrix does not have
	// the number of columns the graph was exported with.
	ErrFeatureCount = errors.New("onnxmodel: wrong number of features")
)
