// Package tabular owns the step from a CSV file to a typed table: it reads
// the file once, streaming, decides what each column is (numeric,
// categorical, boolean or an identifier), turns the target column into
// 0/1 labels and records the SHA-256 of the bytes it read, so a model can
// name the exact data it was trained on. It also splits a table's rows
// into stratified parts for training, validation and testing.
//
// Usage:
//
//	f, err := tabular.ReadCSV(file, tabular.ReadOptions{Target: "Exited"})
//	if err != nil {
//		return fmt.Errorf("read training data: %w", err) // wraps tabular.ErrBadData
//	}
//	parts := tabular.StratifiedSplit(f.Target, 42, 0.7, 0.15, 0.15)
//	train, valid, test := f.Subset(parts[0]), f.Subset(parts[1]), f.Subset(parts[2])
package tabular
