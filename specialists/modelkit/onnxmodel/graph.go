package onnxmodel

import (
	"fmt"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"
)

// The graph contract every exported model follows, and Load checks.
const (
	inputName  = "features"    // float32 [N, F]
	outputName = "probability" // float32 [N, 1]
	batchDim   = "N"

	irVersion    = 8
	opsetVersion = 13 // gonnx v1.1.0 resolves no other opset

	producerName = "orchestrate-modelkit"
	familyKey    = "modelkit.family" // metadata key naming the model family

	familyLinear   = "linear"
	familyMLP      = "mlp"
	familyEnsemble = "ensemble"
)

// graphBuilder accumulates the nodes and float32 initializers of one
// graph. Node outputs are named after what they hold so that a reader of
// the .onnx file (Netron, onnx.helper.printable_graph) can follow it.
type graphBuilder struct {
	nodes []*onnx.NodeProto
	inits []*onnx.TensorProto
}

// constant adds a float32 initializer of the given shape.
func (g *graphBuilder) constant(name string, dims []int64, data []float32) string {
	g.inits = append(g.inits, &onnx.TensorProto{
		Name:      name,
		Dims:      dims,
		DataType:  int32(onnx.TensorProto_FLOAT),
		FloatData: data,
	})
	return name
}

// op adds a default-domain node with one output and returns that output.
func (g *graphBuilder) op(opType, output string, inputs ...string) string {
	g.nodes = append(g.nodes, &onnx.NodeProto{
		Name:   output,
		OpType: opType,
		Input:  inputs,
		Output: []string{output},
	})
	return output
}

// shape adds a Constant node holding an int64 vector (a Reshape target).
// It is a node rather than an initializer so that every initializer stays
// float32.
func (g *graphBuilder) shape(name string, dims ...int64) string {
	g.nodes = append(g.nodes, &onnx.NodeProto{
		Name:   name,
		OpType: "Constant",
		Output: []string{name},
		Attribute: []*onnx.AttributeProto{{
			Name: "value_ints",
			Type: onnx.AttributeProto_INTS,
			Ints: dims,
		}},
	})
	return name
}

// gemm adds Y = A·B + C with B of shape [K, M] (never transposed: gonnx
// would transpose the initializer again on every run).
func (g *graphBuilder) gemm(output, a, b, c string) string {
	return g.op("Gemm", output, a, b, c)
}

// model wraps the graph into a serialized ModelProto with one input
// "features" [N, nFeatures] and one output "probability" [N, 1].
func (g *graphBuilder) model(family, doc string, nFeatures int) ([]byte, error) {
	graph := &onnx.GraphProto{
		Name:        "modelkit_" + family,
		DocString:   doc,
		Node:        g.nodes,
		Initializer: g.inits,
		Input:       []*onnx.ValueInfoProto{tensorInfo(inputName, int64(nFeatures))},
		Output:      []*onnx.ValueInfoProto{tensorInfo(outputName, 1)},
	}
	m := &onnx.ModelProto{
		IrVersion:    irVersion,
		OpsetImport:  []*onnx.OperatorSetIdProto{{Domain: "", Version: opsetVersion}},
		ProducerName: producerName,
		DocString:    doc,
		Graph:        graph,
		MetadataProps: []*onnx.StringStringEntryProto{
			{Key: familyKey, Value: family},
		},
	}
	data, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("marshal %s model: %w", family, err)
	}
	return data, nil
}

// tensorInfo describes a float32 [N, cols] tensor with a symbolic batch.
func tensorInfo(name string, cols int64) *onnx.ValueInfoProto {
	return &onnx.ValueInfoProto{
		Name: name,
		Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{TensorType: &onnx.TypeProto_Tensor{
			ElemType: int32(onnx.TensorProto_FLOAT),
			Shape: &onnx.TensorShapeProto{Dim: []*onnx.TensorShapeProto_Dimension{
				{Value: &onnx.TensorShapeProto_Dimension_DimParam{DimParam: batchDim}},
				{Value: &onnx.TensorShapeProto_Dimension_DimValue{DimValue: cols}},
			}},
		}}},
	}
}

// toFloat32 rounds each value to the nearest float32.
func toFloat32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
