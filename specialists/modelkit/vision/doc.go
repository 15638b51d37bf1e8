// Package vision is modelkit's defect detector for manufacturing quality
// control: a small convolutional network that reads a grayscale camera
// frame of a part and returns the probability that the part has a surface
// defect (a scratch, a spot or a crack).
//
// The pieces follow one another:
//
//	train, err := vision.Synthesize(vision.SynthConfig{N: 2000, Seed: 1}) // or FromGray on PNG frames
//	cfg := vision.Config{Augment: &vision.Augment{FlipH: true, FlipV: true}}
//	model, history, err := vision.Train(ctx, train, valid, cfg, nil)
//	p := model.Predict(frame)   // P(defect)
//	q := vision.Quantize(model) // int8 weights for an edge device
//
// A model trained on one kind of part starts the training for another:
// Train(ctx, few, valid, vision.Config{Freeze: 1}, pretrained) keeps the
// first layer, whose small filters pick out lines and blobs whatever the
// surface, and
// fits the rest to the few frames there are of the new part.
//
// The network subtracts the frame's mean pixel value, then runs a stack of
// 3×3 convolutions with padding 1, the first of stride 1 and the others of
// stride 2, each followed by ReLU, then one dense unit over the flattened
// last feature map and a sigmoid. It has no pooling layer, no batch
// normalisation and no other operator, so that it exports to ONNX as
// operators the pure-Go runtime in onnxmodel can run (see
// onnxmodel.ExportCNN), and so that a model trained here predicts what its
// exported graph predicts, up to float32 rounding.
//
// Everything is deterministic: Synthesize for a seed, Train for its inputs
// and Config (including Config.Workers, which fixes how each minibatch's
// gradient is split and summed). Nothing panics on bad input: the
// functions that can fail return errors that name the problem, and
// Predict returns NaN for an image it cannot read.
package vision
