package features

import "errors"

var (
	// ErrMissingColumn is returned by Transform when the frame lacks a
	// column the pipeline was fitted on.
	ErrMissingColumn = errors.New("missing column")
	// ErrBadValue is returned by Transform and TransformRecord when a
	// value cannot be read as its column's kind, such as "abc" for a
	// numeric column; the message names the field.
	ErrBadValue = errors.New("bad value")
	// ErrInvalidPipeline is returned when a pipeline, usually one read
	// back from JSON, is not one Fit could have made.
	ErrInvalidPipeline = errors.New("invalid pipeline")
)
