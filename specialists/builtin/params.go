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
// customers, <100ms latency, weekly retraining, AWS, with a 10% challenger
// share and the churn data's label.
var paramDefaults = map[string]string{
	"module":         "ml-system",
	"latency_ms":     "100",
	"retraining":     "weekly",
	"volume":         "1M",
	"infra":          "aws",
	"challenger_pct": "10",
	"seed":           "42",
	"target":         "Exited",
}

// planParams are read by every churn skill: every template may use them,
// and the plan gives every subtask the same values.
var planParams = []string{"module", "latency_ms", "retraining", "volume", "infra", "challenger_pct", "seed", "target"}

// dataParams say where a job's data is; only the skills that read the data
// take them. data and test are SHA-256 digests of blobs in the artifact
// store; without data, rows synthetic customers are generated.
var dataParams = []string{"data", "data_name", "test", "test_name", "positive", "rows"}

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
	Cron           string // the same schedule as a five-field cron expression
	Volume         string // as given, e.g. 1M
	Customers      int64  // Volume as a number
	InstanceType   string // SageMaker instance type sized by Customers
	Infra          string // aws or kubernetes
	// ChallengerPercent is the challenger model's share of traffic.
	ChallengerPercent, ChampionPercent int
	Seed                               uint64
	Target                             string

	// Data is set for the skills that read the job's data.
	Data *dataSource
	// Schema is set for the skills that generate code from the data's
	// columns.
	Schema *schema
	// Trials is the search's size per model family, set by train-models.
	Trials int
}

// dataSource is the job's data: blobs of the artifact store, or the
// synthetic generator's rows.
type dataSource struct {
	Train, TrainName string // digest and file name
	Test, TestName   string // empty without a test file
	Positive         string
	Rows             int // synthetic rows; 0 with Train
}

// Synthetic reports whether the job trains on generated data.
func (d *dataSource) Synthetic() bool { return d.Train == "" }

// schedules are EventBridge and five-field cron expressions; retraining
// runs at 03:00 UTC, when scoring traffic is lowest.
var schedules = map[string][2]string{
	"daily":   {"cron(0 3 * * ? *)", "0 3 * * *"},
	"weekly":  {"cron(0 3 ? * SUN *)", "0 3 * * 0"},
	"monthly": {"cron(0 3 1 * ? *)", "0 3 1 * *"},
}

// Synthetic data sizes: the default keeps a whole job near a minute on a
// small machine; the maximum bounds what one worker generates in memory.
const (
	defaultSyntheticRows = 20_000
	maxSyntheticRows     = 10_000_000
)

var digestPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

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
			return nil, specialists.Permanent(fmt.Errorf("skill %s: unknown param %q (accepted: %s)", skill, k, strings.Join(accepted, ", ")))
		}
		vals[k] = strings.TrimSpace(in[k])
	}
	bad := func(name, want string) error {
		return specialists.Permanent(fmt.Errorf("skill %s: param %s=%q: want %s", skill, name, vals[name], want))
	}

	p := &churnParams{Module: vals["module"], Volume: vals["volume"], Target: vals["target"]}
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
	sched, ok := schedules[p.Retraining]
	if !ok {
		return nil, bad("retraining", "daily, weekly or monthly")
	}
	p.Schedule, p.Cron = sched[0], sched[1]
	if p.Customers, err = ParseVolume(p.Volume); err != nil {
		return nil, bad("volume", "a customer count such as 250000, 100K or 1M")
	}
	p.InstanceType = instanceType(p.Customers)
	switch p.Infra = strings.ToLower(vals["infra"]); p.Infra {
	case "aws", "kubernetes":
	default:
		return nil, bad("infra", "aws (SageMaker) or kubernetes")
	}
	pct, err := strconv.Atoi(vals["challenger_pct"])
	if err != nil || pct < 0 || pct > 50 {
		return nil, bad("challenger_pct", "the challenger's share of traffic, a whole percent from 0 to 50")
	}
	p.ChallengerPercent, p.ChampionPercent = pct, 100-pct
	if p.Seed, err = strconv.ParseUint(vals["seed"], 10, 64); err != nil {
		return nil, bad("seed", "a non-negative whole number")
	}
	if p.Target == "" || strings.ContainsAny(p.Target, "\"\n\r`") {
		return nil, bad("target", "the name of the label column")
	}
	if slices.ContainsFunc(accepted, func(k string) bool { return k == "rows" }) {
		if p.Data, err = parseData(vals, bad); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// parseData reads the data params.
func parseData(vals map[string]string, bad func(name, want string) error) (*dataSource, error) {
	d := &dataSource{Train: vals["data"], TrainName: vals["data_name"], Test: vals["test"], TestName: vals["test_name"], Positive: vals["positive"]}
	for _, k := range []string{"data", "test"} {
		if v := vals[k]; v != "" && !digestPattern.MatchString(v) {
			return nil, bad(k, "the hex SHA-256 of a blob in the artifact store")
		}
	}
	if d.Train == "" && d.Test != "" {
		return nil, bad("test", "empty without data: a test file only makes sense with training data")
	}
	if d.Train == "" {
		d.Rows = defaultSyntheticRows
		if v := vals["rows"]; v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 100 || n > maxSyntheticRows {
				return nil, bad("rows", fmt.Sprintf("a number of synthetic customers from 100 to %d", maxSyntheticRows))
			}
			d.Rows = n
		}
	} else if vals["rows"] != "" {
		return nil, bad("rows", "empty with data: rows sizes synthetic data only")
	}
	for _, k := range []string{"data_name", "test_name"} {
		if strings.ContainsAny(vals[k], "/\\\x00\n\r\"`") {
			return nil, bad(k, "a plain file name")
		}
	}
	if d.TrainName == "" && d.Train != "" {
		d.TrainName = "train.csv"
	}
	if d.TestName == "" && d.Test != "" {
		d.TestName = "test.csv"
	}
	return d, nil
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
