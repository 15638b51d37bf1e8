package engine

import (
	"bytes"
	"fmt"
)

// modelCard writes model_card.md: intended use, data, metrics, limitations
// and the caveats of the evaluation.
func modelCard(r *Report) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Model card: %s prediction\n\n", r.Target)
	fmt.Fprintf(&b, "## Intended use\n\nScores the probability that `%s` is positive for one record, to rank records for action (for example retention offers). The best model on validation ROC AUC is `%s`. Not for decisions about individuals without human review.\n\n", r.Target, r.Best)
	fmt.Fprintf(&b, "## Data\n\n- training data sha256 `%s`", r.DataSHA256)
	if r.TestSHA256 != "" {
		fmt.Fprintf(&b, "; test data sha256 `%s`", r.TestSHA256)
	}
	fmt.Fprintf(&b, "\n- rows: %d train, %d validation, %d test (stratified by the target)\n- %d features after the feature step (features.json): numeric columns standardized with a missing indicator where values were missing, categorical columns one-hot with an \"other\" bucket, identifiers dropped\n\n",
		r.Rows.Train, r.Rows.Validation, r.Rows.Test, len(r.Features))
	fmt.Fprintf(&b, "## Metrics (test split)\n\n| model | ROC AUC | PR AUC | log loss | Brier | F1 | precision | recall | threshold |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, m := range r.Models {
		t := m.Test
		fmt.Fprintf(&b, "| %s | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.3f |\n",
			m.Name, t.ROCAUC, t.PRAUC, t.LogLoss, t.Brier, t.F1, t.Precision, t.Recall, t.Threshold)
	}
	b.WriteString("\nFigures: plots/roc.png, plots/pr.png, plots/calibration.png.\n\n")
	b.WriteString("## Limitations\n\n- The models learn the associations in this data set; they do not explain causes, and they drift as the population changes (monitor feature distributions).\n- Categories not seen in training fall into an \"other\" bucket the models know little about.\n- Probabilities are as calibrated as the calibration figure shows; none were recalibrated.\n\n")
	b.WriteString("## Caveats of the evaluation\n\n- Parameters were chosen on the validation split and the decision threshold maximizes F1 there; the test split was used once per family, for the figures above.\n- One split and one seed: differences between families smaller than a few thousandths of AUC are within the noise of the split.\n")
	return b.Bytes()
}
