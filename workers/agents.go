package workers

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/keys"
)

// AgentInfo is one live agent as the registry shows it to any node.
type AgentInfo struct {
	ID      string    `json:"id"`
	Roles   []string  `json:"roles"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Done    int       `json:"done"`
	// The current task, empty when idle.
	Job   string    `json:"job,omitempty"`
	Task  string    `json:"task,omitempty"`
	Role  string    `json:"role,omitempty"`
	Title string    `json:"title,omitempty"`
	Since time.Time `json:"since,omitzero"`
}

// Idle reports whether the agent runs no task.
func (a AgentInfo) Idle() bool { return a.Task == "" }

// ListAgents returns the agents whose heartbeat has not expired, sorted by
// id. Expired entries are pruned from the index on the way.
func ListAgents(ctx context.Context, rdb redis.UniversalClient, ks keys.Space) ([]AgentInfo, error) {
	now := time.Now().UnixMilli()
	if err := rdb.ZRemRangeByScore(ctx, ks.Agents(), "-inf", strconv.FormatInt(now, 10)).Err(); err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	ids, err := rdb.ZRange(ctx, ks.Agents(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	pipe := rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, ks.Agent(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	var out []AgentInfo
	for i, c := range cmds {
		h := c.Val()
		if len(h) == 0 {
			continue // expired between the two reads
		}
		pid, _ := strconv.Atoi(h["pid"])
		done, _ := strconv.Atoi(h["done"])
		a := AgentInfo{
			ID: ids[i], Roles: strings.Split(h["roles"], ","), Host: h["host"], PID: pid,
			Started: msTime(h["started_ms"]), Done: done,
			Job: h["job"], Task: h["task"], Role: h["role"], Title: h["title"], Since: msTime(h["since_ms"]),
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func msTime(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// agent is one concurrent executor of a pool.
type agent struct {
	id   string
	pool *Pool
}

// busy records, in the same round trip as the ledger's start, what the
// agent works on.
func (a *agent) busy(ctx context.Context, t *broker.Task) func(redis.Pipeliner) {
	return func(pipe redis.Pipeliner) {
		pipe.HSet(ctx, a.pool.keys.Agent(a.id), "job", t.Job, "task", t.ID, "role", t.Role,
			"title", t.Title, "since_ms", time.Now().UnixMilli())
	}
}

// idle records that the agent finished a task; done counts completions.
func (a *agent) idle(ctx context.Context, done bool) func(redis.Pipeliner) {
	return func(pipe redis.Pipeliner) {
		pipe.HSet(ctx, a.pool.keys.Agent(a.id), "job", "", "task", "", "role", "", "title", "", "since_ms", 0)
		if done {
			pipe.HIncrBy(ctx, a.pool.keys.Agent(a.id), "done", 1)
		}
	}
}

// heartbeat writes every agent's registration and extends its expiry.
func (p *Pool) heartbeat(ctx context.Context) error {
	now := time.Now()
	ttl := p.cfg.HeartbeatTTL
	pipe := p.rdb.Pipeline()
	for _, a := range p.agents {
		k := p.keys.Agent(a.id)
		pipe.HSet(ctx, k, "roles", strings.Join(p.cfg.Roles, ","), "host", p.host, "pid", p.pid,
			"started_ms", p.started.UnixMilli(), "beat_ms", now.UnixMilli())
		pipe.PExpire(ctx, k, ttl)
		pipe.ZAdd(ctx, p.keys.Agents(), redis.Z{Score: float64(now.Add(ttl).UnixMilli()), Member: a.id})
	}
	_, err := pipe.Exec(ctx)
	return err
}

// unregister removes the pool's agents from the registry at shutdown.
func (p *Pool) unregister(ctx context.Context) {
	pipe := p.rdb.Pipeline()
	for _, a := range p.agents {
		pipe.Del(ctx, p.keys.Agent(a.id))
		pipe.ZRem(ctx, p.keys.Agents(), a.id)
	}
	_, _ = pipe.Exec(ctx)
}
