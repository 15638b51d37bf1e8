// Package features owns the feature step that training and serving share:
// a Pipeline, learned from a training frame, turns a frame or a single
// customer's record into the dense, NaN-free vectors the models take.
// Because both paths go through the same encoders, a model scores a
// customer at serving time exactly as it saw that customer in training.
//
// Usage:
//
//	p, err := features.Fit(train) // train is a *tabular.Frame
//	if err != nil {
//		return fmt.Errorf("fit features: %w", err)
//	}
//	x, err := p.Transform(train) // modelkit.Matrix, one row per customer
//	...
//	blob, _ := json.Marshal(p) // stored beside the model
//	...
//	v, err := p.TransformRecord(map[string]string{"Age": "42", "Geography": "France"})
package features
