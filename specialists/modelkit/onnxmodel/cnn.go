package onnxmodel

import (
	"fmt"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/vision"
)

const (
	familyCNN     = "cnn"
	familyCNNInt8 = "cnn-int8"
)

// ExportCNN writes the defect detector m over flattened Size×Size frames
// (pixels row by row, the features of the graph contract):
//
//	mean     = mean of each frame's row means     [N, 1]   (Reshape and MatMul)
//	centered = Sub(features, mean)                [N, Size²]  the frame minus its mean, as vision.CNN does
//	image    = Reshape(centered)                  [N, 1, Size, Size]
//	conv_i   = Relu(Add(Conv(…, W_i), B_i))       [N, Out_i, side_i, side_i]  per conv layer
//	flat     = Flatten(conv_last)                 [N, C·side·side]  CHW order, like CNN.Dense
//	probability = Sigmoid(Gemm(flat, Dense column, Bias))
//
// The biases are added by Add rather than passed to Conv because gonnx's
// Conv reshapes its bias tensor in place, which would corrupt an
// initializer for the next run (and race under concurrent Predicts).
// Weights and biases are rounded to float32.
func ExportCNN(m *vision.CNN) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("export cnn: %w: %w", ErrInvalidModel, err)
	}
	var g graphBuilder
	cur := g.cnnInput(m.Size)
	for l, c := range m.Convs {
		w := g.constant(fmt.Sprintf("conv%d_weights", l), convDims(c.Out, c.In, c.Kernel), toFloat32(c.W))
		cur = g.conv(l, cur, w, c.Kernel, c.Stride, c.Pad, toFloat32(c.B))
	}
	channels, side := m.OutSize()
	dense := g.constant("dense_weights", []int64{int64(len(m.Dense)), 1}, toFloat32(m.Dense))
	g.cnnHead(cur, dense, m.Bias)
	doc := fmt.Sprintf("modelkit defect detector (CNN) over %d×%d grayscale frames flattened row by row, "+
		"%d conv layers, %d channels of %d×%d into the dense unit, %d parameters: probability of a defect",
		m.Size, m.Size, len(m.Convs), channels, side, side, m.Params())
	return g.model(familyCNN, doc, m.Size*m.Size)
}

// ExportQuantized writes q like ExportCNN, with its weights stored as INT8
// initializers, a quarter of the bytes of float32 ones, and dequantized in
// the graph: weights_i = Mul(Cast(W_i to float), scales_i), the scales
// shaped [Out, 1, 1, 1] to broadcast one per output channel, and the dense
// column likewise with its single scale. Biases and scales stay float32.
// The graph computes what q.Dequantize().Predict computes, in float32.
//
// gonnx's Cast does not list int8 among its inputs (though it converts
// it); Load widens it to take them.
func ExportQuantized(q *vision.Quantized) ([]byte, error) {
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("export quantized cnn: %w: %w", ErrInvalidModel, err)
	}
	var g graphBuilder
	cur := g.cnnInput(q.Size)
	for l, c := range q.Convs {
		w := g.dequantize(fmt.Sprintf("conv%d_weights", l), convDims(c.Out, c.In, c.Kernel), c.W,
			[]int64{int64(c.Out), 1, 1, 1}, toFloat32(c.Scales))
		cur = g.conv(l, cur, w, c.Kernel, c.Stride, c.Pad, toFloat32(c.B))
	}
	dense := g.dequantize("dense_weights", []int64{int64(len(q.Dense)), 1}, q.Dense,
		[]int64{1}, []float32{float32(q.DenseScale)})
	g.cnnHead(cur, dense, q.Bias)
	params := len(q.Dense) + 1
	for _, c := range q.Convs {
		params += len(c.W) + len(c.B)
	}
	doc := fmt.Sprintf("modelkit defect detector (CNN, int8 weights with per-channel scales, dequantized in the graph) "+
		"over %d×%d grayscale frames flattened row by row, %d conv layers, %d parameters: probability of a defect",
		q.Size, q.Size, len(q.Convs), params)
	return g.model(familyCNNInt8, doc, q.Size*q.Size)
}

func convDims(out, in, kernel int) []int64 {
	return []int64{int64(out), int64(in), int64(kernel), int64(kernel)}
}

// cnnInput centers the flattened frames on their means and reshapes them
// to one-channel images, returning the image tensor's name. The mean is
// taken in two steps, each row's mean and then the mean of those, so that
// one constant of Size values serves both instead of Size² values (which
// would outweigh a small network's int8 weights).
func (g *graphBuilder) cnnInput(size int) string {
	s := int64(size)
	avg := make([]float32, size)
	for i := range avg {
		avg[i] = 1 / float32(size)
	}
	average := g.constant("row_average", []int64{s, 1}, avg)
	rows := g.op("Reshape", "rows", inputName, g.shape("rows_shape", -1, s))                    // [N·Size, Size]
	rowMeans := g.op("MatMul", "row_means", rows, average)                                      // [N·Size, 1]
	perFrame := g.op("Reshape", "row_means_by_frame", rowMeans, g.shape("frames_shape", -1, s)) // [N, Size]
	mean := g.op("MatMul", "frame_mean", perFrame, average)                                     // [N, 1]
	centered := g.op("Sub", "centered", inputName, mean)
	return g.op("Reshape", "image", centered, g.shape("image_shape", -1, 1, s, s))
}

// conv adds conv layer l: Relu(Conv(in, w) + b), with b as an [Out, 1, 1]
// initializer that broadcasts over the batch and the pixels.
func (g *graphBuilder) conv(l int, in, w string, kernel, stride, pad int, b []float32) string {
	name := fmt.Sprintf("conv%d", l)
	k, s, p := int64(kernel), int64(stride), int64(pad)
	g.nodes = append(g.nodes, &onnx.NodeProto{
		Name:   name,
		OpType: "Conv",
		Input:  []string{in, w},
		Output: []string{name},
		Attribute: []*onnx.AttributeProto{
			{Name: "kernel_shape", Type: onnx.AttributeProto_INTS, Ints: []int64{k, k}},
			{Name: "strides", Type: onnx.AttributeProto_INTS, Ints: []int64{s, s}},
			{Name: "pads", Type: onnx.AttributeProto_INTS, Ints: []int64{p, p, p, p}},
		},
	})
	bias := g.constant(name+"_bias", []int64{int64(len(b)), 1, 1}, b)
	return g.op("Relu", name+"_relu", g.op("Add", name+"_biased", name, bias))
}

// cnnHead adds the dense unit and the sigmoid over the last feature maps.
func (g *graphBuilder) cnnHead(in, dense string, bias float64) {
	flat := g.flatten("flat", in)
	logit := g.gemm("logit", flat, dense, g.constant("dense_bias", []int64{1}, []float32{float32(bias)}))
	g.op("Sigmoid", outputName, logit)
}

// flatten adds Flatten(in) to [N, rest] (axis 1, spelt out).
func (g *graphBuilder) flatten(output, in string) string {
	g.nodes = append(g.nodes, &onnx.NodeProto{
		Name:      output,
		OpType:    "Flatten",
		Input:     []string{in},
		Output:    []string{output},
		Attribute: []*onnx.AttributeProto{{Name: "axis", Type: onnx.AttributeProto_INT, I: 1}},
	})
	return output
}

// dequantize adds int8 weights of the given shape as an INT8 initializer
// (one byte each in raw_data; int32_data would spend a varint of up to ten
// bytes on each) and the nodes that turn them into float32:
// Mul(Cast(q), scales).
func (g *graphBuilder) dequantize(name string, dims []int64, q []int8, scaleDims []int64, scales []float32) string {
	raw := make([]byte, len(q))
	for i, v := range q {
		raw[i] = byte(v)
	}
	g.inits = append(g.inits, &onnx.TensorProto{
		Name:     name + "_int8",
		Dims:     dims,
		DataType: int32(onnx.TensorProto_INT8),
		RawData:  raw,
	})
	g.nodes = append(g.nodes, &onnx.NodeProto{
		Name:      name + "_float",
		OpType:    "Cast",
		Input:     []string{name + "_int8"},
		Output:    []string{name + "_float"},
		Attribute: []*onnx.AttributeProto{{Name: "to", Type: onnx.AttributeProto_INT, I: int64(onnx.TensorProto_FLOAT)}},
	})
	return g.op("Mul", name, name+"_float", g.constant(name+"_scales", scaleDims, scales))
}
