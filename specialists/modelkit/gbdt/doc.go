// Package gbdt trains the tree ensemble of modelkit: gradient-boosted
// binary trees for the log-loss, grown on histograms of binned features.
//
// Each feature's training values are cut once into at most Params.Bins
// quantile bins; every cut is a real number lying strictly between two
// adjacent distinct training values, so a tree split "bin ≤ b" is exactly
// the modelkit decision "x < Threshold" for every training row and the
// ensemble served on raw floats reproduces the one trained on bins. Trees
// grow depth-wise; histograms are built per feature across Params.Workers
// goroutines, and only for the smaller child of each split, its sibling
// being the parent's histogram minus its own. Every sum is taken in the
// same order whatever the number of workers, so a seed fixes the model bit
// for bit.
//
//	res, err := gbdt.Train(x, y, xVal, yVal, gbdt.Params{}, 1)
//	if err != nil {
//		return err
//	}
//	p := res.Model.Predict(x.Row(0)) // probability of the positive class
package gbdt
