package builtin

import (
	"regexp"
	"slices"
	"strings"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/features"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/tabular"
)

// schema is the data's columns as the generated feature pipelines see
// them: the models' inputs in three groups, and the customer id.
type schema struct {
	IDColumn string
	Groups   []featureGroup
}

type featureGroup struct {
	Name    string // user, transaction, engagement
	Var     string // the Go variable of the group
	Doc     string
	Columns []schemaColumn
}

type schemaColumn struct {
	Name string
	Kind string // Numeric, Categorical or Boolean: the generated constant
}

// groupKeywords assign a column to the transaction or engagement group
// by words in its name; the rest describe the customer (user group).
// Engagement is tried first: "days since last purchase" is engagement.
var groupKeywords = []struct {
	group    string
	keywords []string
}{
	{"engagement", []string{"tenure", "active", "login", "session", "visit", "support", "ticket", "complain",
		"usage", "since", "last", "engag", "satisf", "call", "email", "click", "frequen", "months", "days", "weeks"}},
	{"transaction", []string{"balance", "salary", "income", "charge", "payment", "pay", "spend", "amount", "price",
		"product", "card", "credit", "transaction", "purchase", "order", "revenue", "bill", "fee", "contract",
		"plan", "subscription", "value", "cost"}},
}

var idName = regexp.MustCompile(`(?i)^(customer|client|user|account|member)[ _-]?(id|number|no)$`)

// buildSchema groups the fitted pipeline's inputs and picks the customer
// id among the identifier columns: the one named like a customer id,
// else the first whose name ends in "id", else none.
func buildSchema(p *features.Pipeline, identifiers []string) *schema {
	s := &schema{Groups: []featureGroup{
		{Name: "user", Var: "UserFeatures", Doc: "describe who the customer is"},
		{Name: "transaction", Var: "TransactionFeatures", Doc: "describe the customer's money, products and contract"},
		{Name: "engagement", Var: "EngagementFeatures", Doc: "describe how the customer uses the service"},
	}}
	for _, in := range p.Inputs {
		g := groupOf(in.Name)
		i := slices.IndexFunc(s.Groups, func(fg featureGroup) bool { return fg.Name == g })
		s.Groups[i].Columns = append(s.Groups[i].Columns, schemaColumn{Name: in.Name, Kind: kindConst(in.Kind)})
	}
	for _, id := range identifiers {
		if idName.MatchString(id) {
			s.IDColumn = id
			return s
		}
	}
	for _, id := range identifiers {
		if strings.HasSuffix(strings.ToLower(id), "id") {
			s.IDColumn = id
			return s
		}
	}
	return s
}

func groupOf(column string) string {
	name := strings.ToLower(column)
	for _, g := range groupKeywords {
		for _, kw := range g.keywords {
			if strings.Contains(name, kw) {
				return g.group
			}
		}
	}
	return "user"
}

func kindConst(k tabular.Kind) string {
	switch k {
	case tabular.Categorical:
		return "Categorical"
	case tabular.Boolean:
		return "Boolean"
	default:
		return "Numeric"
	}
}
