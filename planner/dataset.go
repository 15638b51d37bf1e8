package planner

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Defaults of a plan's data and models.
const (
	// SyntheticTarget is the label of the synthetic churn data.
	SyntheticTarget = "Exited"
	// DefaultSeed seeds the split, the search and the trainers.
	DefaultSeed = 42
	// DefaultChallengerPercent is the challenger model's share of traffic
	// in the A/B split.
	DefaultChallengerPercent = 10
	// MaxSyntheticRows bounds the synthetic customers one job generates.
	MaxSyntheticRows = 10_000_000
)

// Dataset is the data a job trains on. The files are blobs of the
// artifact store, named by their SHA-256, so that a worker on any node
// reads the same bytes; without Train the job generates Rows synthetic
// customers (zero means the skills' default).
type Dataset struct {
	Train, TrainName string
	Test, TestName   string
	Target           string
	Positive         string
	Rows             int
	Seed             uint64
}

var hexDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (d Dataset) validate() error {
	for _, v := range []struct{ name, digest string }{{"training data", d.Train}, {"test data", d.Test}} {
		if v.digest != "" && !hexDigest.MatchString(v.digest) {
			return fmt.Errorf("%s: %q is not a hex SHA-256 digest", v.name, v.digest)
		}
	}
	switch {
	case d.Train == "" && d.Test != "":
		return errors.New("test data without training data")
	case d.Train != "" && d.Rows != 0:
		return errors.New("synthetic rows given with training data: use one or the other")
	case d.Rows < 0 || d.Rows > MaxSyntheticRows:
		return fmt.Errorf("synthetic rows %d: want 100 to %d", d.Rows, MaxSyntheticRows)
	case d.Rows > 0 && d.Rows < 100:
		return fmt.Errorf("synthetic rows %d: want at least 100", d.Rows)
	case d.Train == "" && d.Target != "" && d.Target != SyntheticTarget:
		return fmt.Errorf("target %q: synthetic churn data labels %s", d.Target, SyntheticTarget)
	case strings.ContainsAny(d.Target, "\"\n\r`"):
		return fmt.Errorf("target %q: not a column name", d.Target)
	}
	return nil
}

// params are the data params of the skills that read the data.
func (d Dataset) params() map[string]string {
	out := map[string]string{}
	if d.Train == "" {
		if d.Rows > 0 {
			out["rows"] = strconv.Itoa(d.Rows)
		}
		return out
	}
	out["data"], out["data_name"] = d.Train, d.TrainName
	if d.Test != "" {
		out["test"], out["test_name"] = d.Test, d.TestName
	}
	if d.Positive != "" {
		out["positive"] = d.Positive
	}
	return out
}
