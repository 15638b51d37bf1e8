package tabular

import "errors"

// ErrBadData is wrapped by every error ReadCSV returns for input it cannot
// accept: a missing header or target column, a ragged row, text that is
// not UTF-8, a value that does not fit a column's kind, or a target that
// is not two classes. The message says which line and column, in words.
var ErrBadData = errors.New("bad data")
