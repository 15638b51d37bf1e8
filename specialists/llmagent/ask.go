package llmagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/orchestrate-dev/orchestrate/specialists"
)

// Question is a request for one structured answer: the model must call
// Tool with string arguments that Check accepts.
type Question struct {
	System, Prompt string
	// Tool, Description and Args declare the one tool offered; every
	// argument is a required string, described by its value in Args.
	Tool, Description string
	Args              map[string]string
	// Check validates an answer; its error is sent back to the model,
	// which may answer again Repairs times.
	Check   func(args map[string]string) error
	Repairs int
}

// ErrNoAnswer is wrapped by Ask's error when every answer the model gave
// was refused by Check; the error says why the last one was.
var ErrNoAnswer = errors.New("the model gave no acceptable answer")

// Ask puts q to cfg's model and returns the arguments of the first answer
// Check accepts, with what the calls took. Calls go through cfg's cache
// and are recorded by meter, when not nil, like an agent's.
func Ask(ctx context.Context, cfg Config, meter specialists.Meter, q Question) (map[string]string, specialists.Usage, error) {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if cfg.Model == "" {
		return nil, specialists.Usage{}, specialists.Permanent(errors.New("no model"))
	}
	key, err := apiKey(cfg)
	if err != nil {
		return nil, specialists.Usage{}, err
	}
	spec := toolSpec{name: q.Tool, description: q.Description, args: q.Args}
	r := &run{cfg: cfg, api: newProvider(cfg, key, q.System, q.Prompt, []toolSpec{spec}),
		session: &session{req: &specialists.Request{Meter: meter}}, price: priceOf(cfg.Model, cfg.Prices)}
	usage := func() specialists.Usage {
		return specialists.Usage{Calls: r.calls, CachedCalls: r.cached, InputTokens: r.inputTokens, OutputTokens: r.outputTokens, CostUSD: r.cost}
	}
	refused := 0
	for range cfg.MaxTurns {
		rep, err := r.send(ctx)
		if err != nil {
			return nil, usage(), err
		}
		var results []toolResult
		for _, c := range rep.calls {
			if c.name != q.Tool {
				results = append(results, toolResult{id: c.id, content: fmt.Sprintf("there is no tool %q; answer with %s", c.name, q.Tool), isError: true})
				continue
			}
			args, err := stringArgs(c.input)
			if err == nil {
				err = q.Check(args)
			}
			if err == nil {
				return args, usage(), nil
			}
			if refused++; refused > q.Repairs {
				return nil, usage(), fmt.Errorf("%w after %d answers: %v", ErrNoAnswer, refused, err)
			}
			results = append(results, toolResult{id: c.id, content: "refused: " + err.Error(), isError: true})
		}
		r.api.answer(results, "Answer with the tool "+q.Tool+".")
	}
	return nil, usage(), fmt.Errorf("%w within %d turns (%s)", ErrMaxTurns, cfg.MaxTurns, r.usage())
}

// stringArgs reads a tool call's arguments as a JSON object of strings.
func stringArgs(input json.RawMessage) (map[string]string, error) {
	var args map[string]string
	if err := json.Unmarshal(input, &args); err != nil {
		return nil, fmt.Errorf("the arguments are not a JSON object of strings: %v", err)
	}
	return args, nil
}
