package planner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/keys"
)

// ErrNoPlan is wrapped when a saved plan does not exist.
var ErrNoPlan = errors.New("no such plan")

// Plans keeps approved plans by name in Redis, so that any node can
// execute them, as often as wanted.
type Plans struct {
	rdb  redis.UniversalClient
	keys keys.Space
}

// NewPlans returns the plan store under the key prefix ("" means orch:).
func NewPlans(rdb redis.UniversalClient, prefix string) *Plans {
	return &Plans{rdb: rdb, keys: keys.New(prefix)}
}

// Save stores the plan under its name, replacing a plan of that name.
func (s *Plans) Save(ctx context.Context, p *Plan) error {
	if !broker.ValidID(p.Name) {
		return fmt.Errorf("%w: plan name %q: want 1-128 letters, digits, '-' or '_'", ErrInvalidPlan, p.Name)
	}
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode plan %s: %w", p.Name, err)
	}
	pipe := s.rdb.TxPipeline()
	pipe.Set(ctx, s.keys.Plan(p.Name), data, 0)
	pipe.SAdd(ctx, s.keys.Plans(), p.Name)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("save plan %s: %w", p.Name, err)
	}
	return nil
}

// Load reads the plan saved under name.
func (s *Plans) Load(ctx context.Context, name string) (*Plan, error) {
	data, err := s.rdb.Get(ctx, s.keys.Plan(name)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w %q (saved plans are listed by 'orchestrate plans')", ErrNoPlan, name)
	}
	if err != nil {
		return nil, fmt.Errorf("read plan %s: %w", name, err)
	}
	var p Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("decode plan %s: %w", name, err)
	}
	return &p, nil
}

// Names lists the saved plans, sorted.
func (s *Plans) Names(ctx context.Context) ([]string, error) {
	names, err := s.rdb.SMembers(ctx, s.keys.Plans()).Result()
	if err != nil {
		return nil, fmt.Errorf("list plans: %w", err)
	}
	slices.Sort(names)
	return names, nil
}
