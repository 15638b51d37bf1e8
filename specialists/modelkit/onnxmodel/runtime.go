package onnxmodel

import (
	"fmt"

	"github.com/advancedclimatesystems/gonnx"
	"github.com/advancedclimatesystems/gonnx/onnx"
	"github.com/advancedclimatesystems/gonnx/ops"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
	"google.golang.org/protobuf/proto"
	"gorgonia.org/tensor"
)

// Runtime serves a model that follows this package's graph contract,
// running it with gonnx. It is safe for concurrent use: gonnx builds
// fresh operators on every run, and the exported graphs avoid the one
// operator input gonnx writes (Conv's bias, see ExportCNN).
type Runtime struct {
	model     *gonnx.Model
	nFeatures int
	family    string
	metadata  map[string]string
}

// Load parses a serialized ModelProto and checks it against the graph
// contract. It returns ErrInvalidGraph when the bytes do not parse or the
// graph does not follow the contract, and gonnx's error when gonnx
// cannot run it.
func Load(data []byte) (*Runtime, error) {
	mp := &onnx.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		return nil, fmt.Errorf("load onnx model: %w: %w", ErrInvalidGraph, err)
	}
	nFeatures, err := checkContract(mp)
	if err != nil {
		return nil, fmt.Errorf("load onnx model: %w", err)
	}
	model, err := gonnx.NewModel(mp)
	if err != nil {
		return nil, fmt.Errorf("load onnx model: %w", err)
	}
	model.GetOperator = castingInt8(model.GetOperator)
	r := &Runtime{model: model, nFeatures: nFeatures, metadata: map[string]string{}}
	for _, p := range mp.GetMetadataProps() {
		r.metadata[p.GetKey()] = p.GetValue()
	}
	r.family = r.metadata[familyKey]
	return r, nil
}

// checkContract returns the feature count of a graph that follows the
// contract, or an error wrapping ErrInvalidGraph.
func checkContract(mp *onnx.ModelProto) (int, error) {
	g := mp.GetGraph()
	if g == nil || len(g.GetNode()) == 0 {
		return 0, fmt.Errorf("%w: no graph (empty or not an ONNX model)", ErrInvalidGraph)
	}
	for _, o := range mp.GetOpsetImport() {
		if o.GetDomain() != "" || o.GetVersion() != opsetVersion {
			return 0, fmt.Errorf("%w: opset %q %d, gonnx runs only the default domain at opset %d",
				ErrInvalidGraph, o.GetDomain(), o.GetVersion(), opsetVersion)
		}
	}
	if len(g.GetInput()) != 1 || g.GetInput()[0].GetName() != inputName {
		return 0, fmt.Errorf("%w: want the single input %q", ErrInvalidGraph, inputName)
	}
	if len(g.GetOutput()) != 1 || g.GetOutput()[0].GetName() != outputName {
		return 0, fmt.Errorf("%w: want the single output %q", ErrInvalidGraph, outputName)
	}
	tt := g.GetInput()[0].GetType().GetTensorType()
	dims := tt.GetShape().GetDim()
	if tt.GetElemType() != int32(onnx.TensorProto_FLOAT) || len(dims) != 2 || dims[1].GetDimValue() <= 0 {
		return 0, fmt.Errorf("%w: input %q must be float32 [N, F] with a fixed F", ErrInvalidGraph, inputName)
	}
	return int(dims[1].GetDimValue()), nil
}

// Features returns the number of columns Predict expects.
func (r *Runtime) Features() int { return r.nFeatures }

// Metadata returns the value of a metadata key of the model, such as
// ThresholdKey.
func (r *Runtime) Metadata(key string) (string, bool) {
	v, ok := r.metadata[key]
	return v, ok
}

// Family returns the model family recorded at export ("linear", "mlp",
// "ensemble", "cnn", "cnn-int8"), or "" for a graph from elsewhere.
func (r *Runtime) Family() string { return r.family }

// Predict returns the probability of the positive class for each row of
// x. Inputs are rounded to float32, the graph's input type. It returns
// ErrFeatureCount when x does not have Features() columns.
func (r *Runtime) Predict(x modelkit.Matrix) ([]float64, error) {
	if x.Cols != r.nFeatures || len(x.Data) != x.Rows*x.Cols {
		return nil, fmt.Errorf("predict: %d×%d matrix with %d values, want %d columns: %w",
			x.Rows, x.Cols, len(x.Data), r.nFeatures, ErrFeatureCount)
	}
	if x.Rows == 0 {
		return []float64{}, nil
	}
	in := tensor.New(tensor.WithShape(x.Rows, x.Cols), tensor.WithBacking(toFloat32(x.Data)))
	outs, err := r.model.Run(gonnx.Tensors{inputName: in})
	if err != nil {
		return nil, fmt.Errorf("predict: run graph: %w", err)
	}
	out, ok := outs[outputName]
	if !ok || out == nil {
		return nil, fmt.Errorf("predict: graph produced no %q", outputName)
	}
	var probs []float32
	switch d := out.Data().(type) {
	case []float32:
		probs = d
	case float32: // gorgonia returns a scalar for a one-element tensor
		probs = []float32{d}
	default:
		return nil, fmt.Errorf("predict: %q holds %T, want float32", outputName, d)
	}
	if len(probs) != x.Rows {
		return nil, fmt.Errorf("predict: %q has %d values for %d rows", outputName, len(probs), x.Rows)
	}
	res := make([]float64, len(probs))
	for i, p := range probs {
		res[i] = float64(p)
	}
	return res, nil
}

// castingInt8 wraps gonnx's operator lookup so that Cast accepts int8
// inputs, which ExportQuantized's weights are. gonnx v1.1.0's Cast
// converts int8 tensors but leaves int8 out of the input types it
// validates, so without this every quantized graph fails to run.
func castingInt8(get gonnx.OpGetter) gonnx.OpGetter {
	return func(opType string) (ops.Operator, error) {
		op, err := get(opType)
		if err != nil || opType != "Cast" {
			return op, err
		}
		return int8Cast{op}, nil
	}
}

// int8Cast is gonnx's Cast with int8 added to its input types.
type int8Cast struct{ ops.Operator }

func (c int8Cast) GetInputTypeConstraints() [][]tensor.Dtype {
	types := c.Operator.GetInputTypeConstraints()
	out := make([][]tensor.Dtype, len(types))
	for i, t := range types {
		out[i] = append(append([]tensor.Dtype(nil), t...), tensor.Int8)
	}
	return out
}

// ValidateInputs must be redefined: the embedded Cast validates against
// its own list.
func (c int8Cast) ValidateInputs(inputs []tensor.Tensor) ([]tensor.Tensor, error) {
	return ops.ValidateInputs(c, inputs)
}
