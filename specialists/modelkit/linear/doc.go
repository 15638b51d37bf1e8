// Package linear trains the logistic regression of modelkit: the weights
// and bias that minimise the mean log-loss plus an L2 penalty on the
// weights, found by Newton's method.
//
// The feature step standardizes and one-hot encodes its inputs and keeps
// them to tens of columns, so each Newton step solves a small dense system
// exactly (Cholesky) and training converges in a handful of passes over the
// data, the same way every time.
//
//	res, err := linear.Train(x, y, linear.Params{})
//	if err != nil {
//		return err
//	}
//	p := res.Model.Predict(x.Row(0)) // probability of the positive class
package linear
