package inspection

import (
	"bytes"
	"fmt"
)

// modelCard is model_card.md: what the models are, how they were trained
// and how well they do, from the report alone.
func modelCard(r *Report) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Model card: defect detection CNN\n\n")
	fmt.Fprintf(&b, "Input: a %d×%d grayscale frame, pixels in [0, 1], row-major (ONNX input `features`, float32 [N, %d]).\n", r.Size, r.Size, r.Size*r.Size)
	fmt.Fprintf(&b, "Output: P(defect) (ONNX output `probability`, float32 [N, 1]); a frame is flagged at %.4f or above.\n\n", r.Threshold)
	fmt.Fprintf(&b, "Network: convolutions of %v channels (3×3, the later ones with stride 2), ReLU, one dense unit, sigmoid; %d parameters. ", r.Channels, r.Params)
	fmt.Fprintf(&b, "Each frame's mean brightness is subtracted first, so exposure does not move the score.\n\n")
	fmt.Fprintf(&b, "## Training\n\n")
	fmt.Fprintf(&b, "- Pretrained on %d frames of cast parts (a different surface), 6 epochs.\n", r.Frames.Pretrain)
	fmt.Fprintf(&b, "- Fine-tuned on %d labeled frames of the line, validated on %d, with the first layer frozen (transfer learning).\n", r.Frames.Train, r.Frames.Validation)
	fmt.Fprintf(&b, "- The same network trained from scratch on the same frames.\n")
	fmt.Fprintf(&b, "- Shipped: the %s model, the better of the two on the validation frames, as float and as int8.\n", r.Shipped)
	fmt.Fprintf(&b, "- Augmentation: horizontal and vertical flips. Seed %d.\n\n", r.Seed)
	fmt.Fprintf(&b, "## Test frames (%d, never seen in training)\n\n", r.Frames.Test)
	fmt.Fprintf(&b, "| model | ROC AUC | PR AUC | precision | recall | F1 | file |\n|---|---|---|---|---|---|---|\n")
	for _, m := range r.Models {
		file := "-"
		if m.ONNX != "" {
			file = fmt.Sprintf("%s (%d bytes)", m.ONNX, m.ONNXBytes)
		}
		fmt.Fprintf(&b, "| %s | %.4f | %.4f | %.4f | %.4f | %.4f | %s |\n", m.Name, m.Test.ROCAUC, m.Test.PRAUC, m.Test.Precision, m.Test.Recall, m.Test.F1, file)
	}
	fmt.Fprintf(&b, "\nTransfer learning adds %+.4f ROC AUC over training from scratch; int8 quantization costs %.4f.\n", r.TransferGain, r.QuantizationLoss)
	fmt.Fprintf(&b, "\n## Limits\n\nThe frames are %d×%d: defects smaller than a few pixels after downsampling are not seen. "+
		"Scores hold for the surface the model was fine-tuned on; a new product line needs its own labeled frames.\n", r.Size, r.Size)
	return b.Bytes()
}
