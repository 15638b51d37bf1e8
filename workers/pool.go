package workers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/keys"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// Config tunes a pool. Zero values mean the documented defaults.
type Config struct {
	// Roles the pool serves; required.
	Roles []string
	// MaxAgents is the number of tasks run at once; zero means 4.
	MaxAgents int
	// Prefetch bounds the tasks each consumer holds ahead of the agents;
	// zero means twice MaxAgents (at least 8). Larger values raise
	// throughput for short tasks and lower fairness between workers.
	Prefetch int
	// TaskTimeout bounds one execution unless the task sets its own; zero
	// means 30 minutes.
	TaskTimeout time.Duration
	// Grace is how long Shutdown lets running tasks finish before it
	// cancels them and hands them back; zero means 30 seconds.
	Grace time.Duration
	// HeartbeatTTL is how long an agent stays listed without a heartbeat;
	// zero means 15 seconds. Heartbeats are sent every third of it.
	HeartbeatTTL time.Duration
	// StarvationLimit is how many consecutive higher-priority picks may
	// pass over waiting lower-priority work; zero means 8.
	StarvationLimit int
	// RetryInitial and RetryMax bound the exponential backoff between
	// deliveries of a failing task; zero means 1s and 1m.
	RetryInitial, RetryMax time.Duration
	// Name prefixes agent ids; empty means "<host>-<pid>".
	Name string
	// WorkDir holds the scratch directories of executions; empty means
	// the system's temporary directory.
	WorkDir string
	// Env is handed to skills (see specialists.Request.Env).
	Env map[string]string
	// OnStart, when set, is called as each task starts executing.
	OnStart func(t *broker.Task, agent string)
	// Observer hears what the agents do, for metrics; nil means none.
	Observer Observer
}

func (c Config) withDefaults() Config {
	if c.MaxAgents <= 0 {
		c.MaxAgents = 4
	}
	if c.Prefetch <= 0 {
		c.Prefetch = max(2*c.MaxAgents, 8)
	}
	if c.TaskTimeout <= 0 {
		c.TaskTimeout = 30 * time.Minute
	}
	if c.Grace <= 0 {
		c.Grace = 30 * time.Second
	}
	if c.HeartbeatTTL <= 0 {
		c.HeartbeatTTL = 15 * time.Second
	}
	if c.StarvationLimit <= 0 {
		c.StarvationLimit = 8
	}
	if c.Observer == nil {
		c.Observer = noObserver{}
	}
	if c.RetryInitial <= 0 {
		c.RetryInitial = time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = time.Minute
	}
	return c
}

// Deps are the services a pool works with.
type Deps struct {
	Broker *broker.Broker
	Ledger *planner.Ledger
	Store  *artifacts.Store
	Skills *specialists.Registry
	Redis  redis.UniversalClient
	Log    *zap.Logger
}

// Pool runs up to MaxAgents tasks at once for its roles.
type Pool struct {
	cfg  Config
	deps Deps
	rdb  redis.UniversalClient
	keys keys.Space
	log  *zap.Logger
	disp *dispatcher

	host    string
	pid     int
	started time.Time
	agents  []*agent

	iters []jetstream.MessagesContext
	// advisories receives JetStream's MAX_DELIVERIES advisories.
	advisories *nats.Subscription
	stopping   chan struct{} // closed when shutdown begins: take no new work
	hardStop   context.CancelFunc
	taskCtx    context.Context
	wg         sync.WaitGroup // agents
	feeders    sync.WaitGroup
	bgCancel   context.CancelFunc
	bg         sync.WaitGroup // heartbeats
	stopOnce   sync.Once
}

// ErrNoRoles is returned by NewPool when the configuration names no role.
var ErrNoRoles = errors.New("worker pool: no roles (try --roles ml-systems-architect,collector)")

// NewPool checks the configuration and returns a pool ready to Start.
func NewPool(deps Deps, cfg Config) (*Pool, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Roles) == 0 {
		return nil, ErrNoRoles
	}
	for _, r := range cfg.Roles {
		if !deps.Skills.HasRole(r) {
			return nil, fmt.Errorf("worker pool: unknown role %q (known: %v)", r, deps.Skills.Roles())
		}
	}
	if deps.Log == nil {
		deps.Log = zap.NewNop()
	}
	host, _ := os.Hostname()
	p := &Pool{
		cfg: cfg, deps: deps, rdb: deps.Redis, keys: deps.Ledger.Keys(), log: deps.Log,
		disp: newDispatcher(cfg.Prefetch, cfg.StarvationLimit),
		host: host, pid: os.Getpid(), stopping: make(chan struct{}),
	}
	name := cfg.Name
	if name == "" {
		name = fmt.Sprintf("%s-%d", host, p.pid)
	}
	for i := range cfg.MaxAgents {
		p.agents = append(p.agents, &agent{id: fmt.Sprintf("%s-a%d", name, i+1), pool: p})
	}
	return p, nil
}

// Start registers the agents, binds the role's consumers and begins work.
// The topology must exist (broker.EnsureTopology).
func (p *Pool) Start(ctx context.Context) error {
	p.started = time.Now()
	if err := p.heartbeat(ctx); err != nil {
		return fmt.Errorf("register agents: %w", err)
	}
	for _, role := range p.cfg.Roles {
		for _, prio := range broker.Priorities {
			c, err := p.deps.Broker.Consumer(ctx, role, prio)
			if err != nil {
				p.stopIters()
				return err
			}
			it, err := c.Messages(jetstream.PullMaxMessages(p.cfg.Prefetch))
			if err != nil {
				p.stopIters()
				return fmt.Errorf("consume %s: %w", broker.ConsumerName(role, prio), err)
			}
			p.iters = append(p.iters, it)
			p.feeders.Add(1)
			go p.feed(it, p.disp.queues[priorityIndex(prio)])
		}
	}
	sub, err := p.watchMaxDeliveries()
	if err != nil {
		p.stopIters()
		return fmt.Errorf("watch max deliveries: %w", err)
	}
	p.advisories = sub
	var bgCtx context.Context
	bgCtx, p.bgCancel = context.WithCancel(context.Background())
	p.bg.Add(1)
	go p.beat(bgCtx)

	p.taskCtx, p.hardStop = context.WithCancel(context.Background())
	stopCtx, cancelStop := context.WithCancel(context.Background())
	go func() { <-p.stopping; cancelStop() }()
	for _, a := range p.agents {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				m, ok := p.disp.next(stopCtx)
				if !ok {
					return
				}
				p.process(p.taskCtx, a, m)
			}
		}()
	}
	return nil
}

// feed moves delivered messages to the dispatcher until the iterator is
// closed. Messages that arrive after shutdown began are handed back.
func (p *Pool) feed(it jetstream.MessagesContext, q chan<- jetstream.Msg) {
	defer p.feeders.Done()
	for {
		m, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			p.log.Debug("fetch", zap.Error(err))
			continue
		}
		select {
		case q <- m:
		case <-p.stopping:
			_ = m.Nak()
		}
	}
}

func (p *Pool) beat(ctx context.Context) {
	defer p.bg.Done()
	t := time.NewTicker(p.cfg.HeartbeatTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := p.heartbeat(ctx); err != nil && ctx.Err() == nil {
				p.log.Warn("agent heartbeat", zap.Error(err))
			}
		}
	}
}

func (p *Pool) stopIters() {
	for _, it := range p.iters {
		it.Drain()
	}
	if p.advisories != nil {
		_ = p.advisories.Unsubscribe()
	}
}

// Shutdown stops taking work, hands back tasks not yet started, and gives
// running tasks until the grace period (or ctx) ends; tasks still running
// then are cancelled and handed back for another agent. Agents leave the
// registry. It returns once every agent has stopped.
func (p *Pool) Shutdown(ctx context.Context) {
	p.stopOnce.Do(func() {
		close(p.stopping)
		// Stop pulling first, so nothing new arrives while we hand back.
		p.stopIters()
		p.feeders.Wait()
		p.disp.drain(func(m jetstream.Msg) { _ = m.Nak() })

		done := make(chan struct{})
		go func() { p.wg.Wait(); close(done) }()
		grace := time.NewTimer(p.cfg.Grace)
		defer grace.Stop()
		select {
		case <-done:
		case <-grace.C:
			p.hardStop()
			<-done
		case <-ctx.Done():
			p.hardStop()
			<-done
		}
		p.hardStop()
		p.disp.drain(func(m jetstream.Msg) { _ = m.Nak() })
		p.bgCancel()
		p.bg.Wait()
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.unregister(cctx)
	})
}
