package onnxmodel

import (
	"fmt"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"
)

// ThresholdKey is the metadata key of a classifier's decision threshold:
// a device that receives only the model file decides as it was trained
// to.
const ThresholdKey = "modelkit.threshold"

// SetMetadata returns the serialized model with key set to value in its
// metadata, replacing an earlier value. The bytes are deterministic for
// the same model and metadata.
func SetMetadata(data []byte, key, value string) ([]byte, error) {
	mp := &onnx.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		return nil, fmt.Errorf("set metadata %s: %w: %w", key, ErrInvalidGraph, err)
	}
	found := false
	for _, p := range mp.MetadataProps {
		if p.GetKey() == key {
			p.Value, found = value, true
		}
	}
	if !found {
		mp.MetadataProps = append(mp.MetadataProps, &onnx.StringStringEntryProto{Key: key, Value: value})
	}
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(mp)
	if err != nil {
		return nil, fmt.Errorf("set metadata %s: %w", key, err)
	}
	return out, nil
}
