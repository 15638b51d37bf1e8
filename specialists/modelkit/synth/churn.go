// Package synth generates synthetic data sets for jobs that bring none.
//
// Churn writes customers with user, transaction and engagement attributes
// and a churn label whose signal is deliberately non-linear (interactions,
// thresholds, a U-shape in age) plus noise, so that tree ensembles beat a
// linear baseline as they do on real churn data. Rows are streamed, so a
// million customers need no more memory than one.
package synth

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// ChurnHeader lists the columns Churn writes, the target last.
var ChurnHeader = []string{
	"CustomerId", "CreditScore", "Geography", "Gender", "Age", "Tenure", "Balance",
	"NumOfProducts", "HasCrCard", "IsActiveMember", "EstimatedSalary",
	"Contract", "MonthlyCharges", "TransactionsLast30d", "SupportTickets",
	"DaysSinceLastLogin", "SessionsPerWeek", "Exited",
}

var (
	geographies = []string{"France", "Germany", "Spain"}
	contracts   = []string{"month-to-month", "one-year", "two-year"}
)

// Churn writes a header and rows customers generated from seed as CSV.
// The same rows and seed give the same bytes.
func Churn(w io.Writer, rows int, seed uint64) error {
	if rows < 1 {
		return fmt.Errorf("synthetic churn data: rows must be at least 1, got %d", rows)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.WriteString(strings.Join(ChurnHeader, ",") + "\n"); err != nil {
		return err
	}
	buf := make([]byte, 0, 256)
	for i := range rows {
		buf = appendCustomer(buf[:0], rng, 15_000_000+i)
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("write synthetic churn data: %w", err)
		}
	}
	return bw.Flush()
}

func appendCustomer(b []byte, rng *rand.Rand, id int) []byte {
	age := clamp(math.Round(38+11*rng.NormFloat64()), 18, 92)
	tenure := float64(rng.IntN(11))
	geo := geographies[pick(rng, []float64{0.5, 0.25, 0.25})]
	gender := "Male"
	if rng.Float64() < 0.46 {
		gender = "Female"
	}
	credit := clamp(math.Round(650+96*rng.NormFloat64()), 350, 850)
	balance := 0.0
	if rng.Float64() < 0.64 {
		balance = math.Round(clamp(120000+32000*rng.NormFloat64(), 3000, 260000)*100) / 100
	}
	products := float64(1 + pick(rng, []float64{0.5, 0.46, 0.03, 0.01}))
	hasCard := b01(rng.Float64() < 0.7)
	active := b01(rng.Float64() < 0.52)
	salary := math.Round(rng.Float64()*199000 + 1000)
	contract := contracts[pick(rng, []float64{0.55, 0.25, 0.2})]
	monthly := math.Round((20+rng.Float64()*100)*100) / 100
	tx := math.Round(clamp(25+12*rng.NormFloat64()-8*(1-active), 0, 120))
	tickets := float64(poisson(rng, 0.6+0.8*(1-active)))
	lastLogin := math.Round(clamp(rng.ExpFloat64()*(6+20*(1-active)), 0, 365))
	sessions := math.Round(clamp(5+3*rng.NormFloat64()+3*active, 0, 40)*10) / 10

	// The churn logit: thresholds, interactions and a U-shape, so that
	// no linear model over these columns captures it.
	z := -2.8
	z += 0.0035 * (age - 45) * (age - 45) / 10 // U-shape around middle age
	if age > 55 && active == 0 {
		z += 1.3
	}
	if geo == "Germany" {
		z += 0.7
	}
	switch products {
	case 1:
		z += 0.3
	case 3, 4:
		z += 2.6
	}
	if contract == "month-to-month" {
		z += 0.9
		if monthly > 80 {
			z += 0.8
		}
	} else if contract == "two-year" {
		z -= 1.1
	}
	if tickets >= 3 {
		z += 1.1
	}
	if lastLogin > 30 {
		z += 0.9 * math.Min((lastLogin-30)/30, 2)
	}
	if balance == 0 && products == 2 {
		z -= 0.6
	}
	if tx < 10 && sessions < 3 {
		z += 1.0
	}
	if gender == "Female" {
		z += 0.25
	}
	z += 0.35 * rng.NormFloat64() // noise the features cannot explain
	exited := b01(rng.Float64() < 1/(1+math.Exp(-z)))

	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, ',')
	b = strconv.AppendFloat(b, credit, 'f', -1, 64)
	b = append(b, ',')
	b = append(b, geo...)
	b = append(b, ',')
	b = append(b, gender...)
	for _, v := range []float64{age, tenure, balance, products, hasCard, active, salary} {
		b = append(b, ',')
		b = strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	b = append(b, ',')
	b = append(b, contract...)
	for _, v := range []float64{monthly, tx, tickets, lastLogin, sessions, exited} {
		b = append(b, ',')
		b = strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	return append(b, '\n')
}

func pick(rng *rand.Rand, weights []float64) int {
	u := rng.Float64()
	for i, w := range weights {
		if u < w {
			return i
		}
		u -= w
	}
	return len(weights) - 1
}

func poisson(rng *rand.Rand, lambda float64) int {
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func b01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
