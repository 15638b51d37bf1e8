package llmagent

import "strings"

// Price is what a model charges, in US dollars per million tokens.
type Price struct {
	InputPerMTok  float64 `yaml:"input_usd_per_mtok" json:"input_usd_per_mtok"`
	OutputPerMTok float64 `yaml:"output_usd_per_mtok" json:"output_usd_per_mtok"`
}

func (p Price) cost(in, out int64) float64 {
	return (float64(in)*p.InputPerMTok + float64(out)*p.OutputPerMTok) / 1e6
}

// DefaultPrices are the list prices of common models, in US dollars per
// million tokens, for the cost estimates of status. A model not here (a
// local Ollama model, say) costs nothing unless roles.yaml prices it.
var DefaultPrices = map[string]Price{
	"claude-opus-4-1":   {15, 75},
	"claude-opus-4":     {15, 75},
	"claude-sonnet-4-5": {3, 15},
	"claude-sonnet-4":   {3, 15},
	"claude-haiku-4-5":  {1, 5},
	"claude-3-5-haiku":  {0.8, 4},
	"gpt-4.1":           {2, 8},
	"gpt-4.1-mini":      {0.4, 1.6},
	"gpt-4.1-nano":      {0.1, 0.4},
	"gpt-4o":            {2.5, 10},
	"gpt-4o-mini":       {0.15, 0.6},
}

// priceOf finds a model's price: in extra, then in DefaultPrices; a dated
// model name (claude-sonnet-4-5-20250929) takes the price of the longest
// name it extends.
func priceOf(model string, extra map[string]Price) Price {
	for _, table := range []map[string]Price{extra, DefaultPrices} {
		if p, ok := table[model]; ok {
			return p
		}
	}
	best, bestLen := Price{}, -1
	for _, table := range []map[string]Price{extra, DefaultPrices} {
		for name, p := range table {
			if strings.HasPrefix(model, name+"-") && len(name) > bestLen {
				best, bestLen = p, len(name)
			}
		}
		if bestLen >= 0 {
			return best
		}
	}
	return best
}
