package builtin

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/orchestrate-dev/orchestrate/specialists"
)

// paramDefaults are the answers of our users' churn example: 1M
// customers, <100ms latency, weekly retraining, AWS.
var paramDefaults = map[string]string{
	"module":     "ml-system",
	"latency_ms": "100",
	"retraining": "weekly",
	"volume":     "1M",
	"infra":      "aws",
}

// churnParams is what the templates see: every param parsed, with the
// values derived from them.
type churnParams struct {
	Module string
	// LatencyMS is the p99 budget of one prediction.
	LatencyMS int
	// LatencySeconds is LatencyMS in the unit dashboards use, preformatted so
	// that the output never depends on float formatting in templates.
	LatencySeconds string
	Retraining     string // daily, weekly or monthly
	Schedule       string // EventBridge cron expression of Retraining
	Volume         string // as given, e.g. 1M
	Customers      int64  // Volume as a number
	InstanceType   string // SageMaker instance type sized by Customers
	Infra          string
}

// schedules are EventBridge cron expressions; retraining runs at 03:00 UTC,
// when scoring traffic is lowest.
var schedules = map[string]string{
	"daily":   "cron(0 3 * * ? *)",
	"weekly":  "cron(0 3 ? * SUN *)",
	"monthly": "cron(0 3 1 * ? *)",
}

// parseParams fills the defaults in, refuses params the skill does not
// read, and validates every value. Its errors are permanent: retrying
// cannot fix a bad param.
func parseParams(skill string, accepted []string, in map[string]string) (*churnParams, error) {
	vals := map[string]string{}
	for k, v := range paramDefaults {
		vals[k] = v
	}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(accepted, k) {
			known := "none"
			if len(accepted) > 0 {
				known = strings.Join(accepted, ", ")
			}
			return nil, specialists.Permanent(fmt.Errorf("skill %s: unknown param %q (accepted: %s)", skill, k, known))
		}
		vals[k] = strings.TrimSpace(in[k])
	}
	bad := func(name, want string) error {
		return specialists.Permanent(fmt.Errorf("skill %s: param %s=%q: want %s", skill, name, vals[name], want))
	}

	p := &churnParams{Module: vals["module"], Volume: vals["volume"]}
	if !validModulePath(p.Module) {
		return nil, bad("module", "a Go module path such as ml-system or example.com/churn")
	}
	ms, err := strconv.Atoi(vals["latency_ms"])
	if err != nil || ms < 1 || ms > 60000 {
		return nil, bad("latency_ms", "a whole number of milliseconds from 1 to 60000")
	}
	p.LatencyMS = ms
	p.LatencySeconds = strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)
	p.Retraining = strings.ToLower(vals["retraining"])
	if p.Schedule = schedules[p.Retraining]; p.Schedule == "" {
		return nil, bad("retraining", "daily, weekly or monthly")
	}
	if p.Customers, err = ParseVolume(p.Volume); err != nil {
		return nil, bad("volume", "a customer count such as 250000, 100K or 1M")
	}
	p.InstanceType = instanceType(p.Customers)
	if p.Infra = strings.ToLower(vals["infra"]); p.Infra != "aws" {
		return nil, bad("infra", "aws (the only infrastructure the churn scenario deploys to)")
	}
	return p, nil
}

var volumePattern = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([kKmMbB]?)$`)

// ParseVolume reads a customer count written as people say it: 250000,
// 100K, 1M, 1.5M, 2B.
func ParseVolume(s string) (int64, error) {
	m := volumePattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("volume %q: want a count such as 250000, 100K or 1M", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("volume %q: %w", s, err)
	}
	switch strings.ToUpper(m[2]) {
	case "K":
		n *= 1e3
	case "M":
		n *= 1e6
	case "B":
		n *= 1e9
	}
	if n < 1 || n > 1e12 {
		return 0, fmt.Errorf("volume %q: want between 1 and 1e12 customers", s)
	}
	return int64(n), nil
}

// instanceType sizes SageMaker instances by customer count: scoring and
// weekly retraining of up to 100K customers fit a large instance, up to
// 1M an xlarge; beyond that the training data no longer fits comfortably
// in 16 GiB.
func instanceType(customers int64) string {
	switch {
	case customers <= 100_000:
		return "ml.m5.large"
	case customers <= 1_000_000:
		return "ml.m5.xlarge"
	default:
		return "ml.m5.4xlarge"
	}
}

var moduleElem = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~-]*$`)

// validModulePath accepts the module paths the go command accepts for a
// local module, minus exotic corners: slash-separated elements of letters,
// digits and ._~-, none starting with a dot.
func validModulePath(p string) bool {
	if p == "" || len(p) > 200 {
		return false
	}
	for _, e := range strings.Split(p, "/") {
		if !moduleElem.MatchString(e) || strings.HasSuffix(e, ".") {
			return false
		}
	}
	return true
}
