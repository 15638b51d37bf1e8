// Package mlp trains the multilayer perceptron of modelkit: one or two
// ReLU hidden layers and a logit output, fitted to the mean log-loss plus
// an L2 penalty by Adam on shuffled mini-batches, keeping the weights of
// the epoch with the lowest validation log-loss.
//
// Training runs on one goroutine from one seeded random source (He
// initialisation, then one shuffle per epoch), so the same data, Params
// and seed give the same model bit for bit.
//
//	res, err := mlp.Train(x, y, xVal, yVal, mlp.Params{}, 42)
//	if err != nil {
//		return err
//	}
//	log.Printf("best epoch %d of %d", res.BestEpoch, len(res.ValidLogLoss))
//	p := res.Model.Predict(row) // probability of the positive class
package mlp
