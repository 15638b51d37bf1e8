package workers

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
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

// agent is one concurrent executor of a pool. What it works on lives in
// memory and reaches the registry with the heartbeats, or at once when a
// task runs long enough to be claimed (see claimAfter): most tasks finish
// sooner, and writing every one would double the Redis work of short tasks
// for a view that people read.
type agent struct {
	id   string
	pool *Pool

	mu    sync.Mutex
	cur   *broker.Task
	since time.Time
	shown bool // the registry shows cur
	done  int
}

// begin records that the agent started t.
func (a *agent) begin(t *broker.Task) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cur, a.since, a.shown = t, time.Now(), false
}

// show writes the agent's current task to the registry if it is still t.
func (a *agent) show(t *broker.Task) {
	a.mu.Lock()
	if a.cur != t {
		a.mu.Unlock()
		return
	}
	a.shown = true
	fields := a.fieldsLocked()
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = a.pool.rdb.HSet(ctx, a.pool.keys.Agent(a.id), fields...).Err()
}

// end records that the agent finished its task (done when it succeeded)
// and returns the registry update to send with the ledger's completion, or
// nil when the registry never showed the task.
func (a *agent) end(ctx context.Context, done bool) func(redis.Pipeliner) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if done {
		a.done++
	}
	shown := a.shown
	a.cur, a.shown = nil, false
	if !shown {
		return nil
	}
	fields := a.fieldsLocked()
	return func(pipe redis.Pipeliner) { pipe.HSet(ctx, a.pool.keys.Agent(a.id), fields...) }
}

// finished is end for a task that succeeded.
func (a *agent) finished(ctx context.Context) func(redis.Pipeliner) { return a.end(ctx, true) }

// fieldsLocked is the agent's activity as registry fields.
func (a *agent) fieldsLocked() []any {
	if a.cur == nil {
		return []any{"job", "", "task", "", "role", "", "title", "", "since_ms", 0, "done", a.done}
	}
	return []any{"job", a.cur.Job, "task", a.cur.ID, "role", a.cur.Role, "title", a.cur.Title,
		"since_ms", a.since.UnixMilli(), "done", a.done}
}

// heartbeat writes every agent's registration and extends its expiry.
func (p *Pool) heartbeat(ctx context.Context) error {
	now := time.Now()
	ttl := p.cfg.HeartbeatTTL
	pipe := p.rdb.Pipeline()
	for _, a := range p.agents {
		k := p.keys.Agent(a.id)
		a.mu.Lock()
		fields := a.fieldsLocked()
		a.mu.Unlock()
		fields = append(fields, "roles", strings.Join(p.cfg.Roles, ","), "host", p.host, "pid", p.pid,
			"started_ms", p.started.UnixMilli(), "beat_ms", now.UnixMilli())
		pipe.HSet(ctx, k, fields...)
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
