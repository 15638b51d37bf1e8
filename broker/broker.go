package broker

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config holds the JetStream settings of the topology. Zero values mean the
// documented defaults.
type Config struct {
	// Replicas of every stream; zero means 1 (use 3 in a cluster).
	Replicas int
	// AckWait is how long a delivered task may go without an ack or an
	// InProgress heartbeat before it is redelivered; zero means 30s.
	AckWait time.Duration
	// MaxDeliver bounds the deliveries of one task publication; zero
	// means 5.
	MaxDeliver int
	// RoleMaxDeliver overrides MaxDeliver for some roles: a role whose
	// tasks are expensive to retry may allow fewer deliveries.
	RoleMaxDeliver map[string]int
	// MaxAckPending bounds the unacknowledged tasks of one consumer across
	// all workers; zero means 10,000. It must be at least the total
	// concurrency of the role's workers.
	MaxAckPending int
	// EventsMaxAge is how long job events are kept; zero means 72h.
	EventsMaxAge time.Duration
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = 5
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = 10000
	}
	if c.EventsMaxAge == 0 {
		c.EventsMaxAge = 72 * time.Hour
	}
	return c
}

// ConnectTimeout bounds the first connection to a NATS server.
const ConnectTimeout = 5 * time.Second

// Connect dials a NATS server; failure within ConnectTimeout is an error
// that names the URL (without its password) and wraps ErrUnreachable.
// After the first connection the client reconnects forever.
func Connect(ctx context.Context, rawURL, name string, opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{
		nats.Name(name),
		nats.Timeout(ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
	}, opts...)
	type result struct {
		nc  *nats.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(rawURL, opts...)
		ch <- result{nc, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("%w at %s: %v", ErrUnreachable, Redact(rawURL), r.err)
		}
		return r.nc, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("%w at %s: %v", ErrUnreachable, Redact(rawURL), ctx.Err())
	}
}

// Redact hides the password or token of a server URL.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); !has {
		u.User = url.User("redacted")
		return u.String()
	}
	return u.Redacted()
}

// Broker publishes tasks and events and hands out consumers on one
// connection.
type Broker struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	cfg    Config
	events events
}

// New wraps a connection. Call EnsureTopology before consuming.
func New(nc *nats.Conn, cfg Config) (*Broker, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &Broker{nc: nc, js: js, cfg: cfg.WithDefaults()}, nil
}

// Conn is the underlying connection.
func (b *Broker) Conn() *nats.Conn { return b.nc }

// JetStream is the underlying JetStream context.
func (b *Broker) JetStream() jetstream.JetStream { return b.js }

// Config is the topology configuration with defaults applied.
func (b *Broker) Config() Config { return b.cfg }

// EnsureTopology creates or updates the three streams and the consumers of
// the given roles, so that a changed setting takes effect on start.
func (b *Broker) EnsureTopology(ctx context.Context, roles []string) error {
	streams := []jetstream.StreamConfig{
		{
			Name:        TasksStream,
			Description: "Subtasks waiting for a worker, one subject per role and priority.",
			Subjects:    []string{"orch.tasks.>"},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    b.cfg.Replicas,
			Duplicates:  10 * time.Minute,
		},
		{
			Name:        EventsStream,
			Description: "Every state change of jobs and their tasks.",
			Subjects:    []string{"orch.events.>"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    b.cfg.Replicas,
			MaxAge:      b.cfg.EventsMaxAge,
		},
		{
			Name:        DLQStream,
			Description: "Tasks that failed for good, kept until replayed or purged.",
			Subjects:    []string{"orch.dlq.>"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    b.cfg.Replicas,
		},
	}
	for _, sc := range streams {
		if _, err := b.js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("create stream %s: %w", sc.Name, err)
		}
	}
	for _, role := range roles {
		if !ValidID(role) {
			return fmt.Errorf("create consumers: invalid role name %q", role)
		}
		for _, p := range Priorities {
			if _, err := b.js.CreateOrUpdateConsumer(ctx, TasksStream, b.consumerConfig(role, p)); err != nil {
				return fmt.Errorf("create consumer %s: %w", ConsumerName(role, p), err)
			}
		}
	}
	return nil
}

func (b *Broker) consumerConfig(role string, p Priority) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       ConsumerName(role, p),
		Description:   fmt.Sprintf("%s tasks of role %s", p, role),
		FilterSubject: TaskSubject(role, p),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.cfg.AckWait,
		MaxDeliver:    b.MaxDeliver(role),
		MaxAckPending: b.cfg.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		Replicas:      b.cfg.Replicas,
	}
}

// MaxDeliver returns the deliveries a task of the role may have.
func (b *Broker) MaxDeliver(role string) int {
	if n := b.cfg.RoleMaxDeliver[role]; n > 0 {
		return n
	}
	return b.cfg.MaxDeliver
}

// Consumer returns the bound durable consumer of a role and priority.
func (b *Broker) Consumer(ctx context.Context, role string, p Priority) (jetstream.Consumer, error) {
	c, err := b.js.Consumer(ctx, TasksStream, ConsumerName(role, p))
	if err != nil {
		return nil, fmt.Errorf("bind consumer %s: %w", ConsumerName(role, p), err)
	}
	return c, nil
}

// PublishTasks publishes tasks with their de-duplication ids and waits
// until JetStream has stored every one. Publications are pipelined.
func (b *Broker) PublishTasks(ctx context.Context, tasks []*Task) error {
	var p Publication
	if err := p.Add(b, tasks); err != nil {
		return err
	}
	return p.Wait(ctx)
}

// Publication is a set of task publications in flight, for publishers
// that keep working (writing the next part of a large job) while JetStream
// stores the previous ones.
type Publication struct{ futures []jetstream.PubAckFuture }

// Add publishes tasks without waiting for JetStream to store them.
func (p *Publication) Add(b *Broker, tasks []*Task) error {
	for _, t := range tasks {
		data, err := t.Encode()
		if err != nil {
			return fmt.Errorf("encode task %s: %w", t.ID, err)
		}
		f, err := b.js.PublishMsgAsync(&nats.Msg{
			Subject: TaskSubject(t.Role, t.Priority),
			Data:    data,
			Header:  nats.Header{nats.MsgIdHdr: []string{t.MsgID()}},
		})
		if err != nil {
			return fmt.Errorf("publish task %s: %w", t.ID, err)
		}
		p.futures = append(p.futures, f)
	}
	return nil
}

// Wait returns once JetStream stored every task added, or with the first
// failure.
func (p *Publication) Wait(ctx context.Context) error {
	err := waitAcks(ctx, p.futures)
	p.futures = nil
	return err
}

func waitAcks(ctx context.Context, futures []jetstream.PubAckFuture) error {
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			return fmt.Errorf("publish %s: %w", f.Msg().Subject, ctx.Err())
		}
	}
	return nil
}

// Close publishes queued events, waits for pending publications (bounded
// by ctx) and drains the connection.
func (b *Broker) Close(ctx context.Context) {
	_ = b.FlushEvents()
	b.events.mu.Lock()
	b.events.closed = true
	b.events.mu.Unlock()
	select {
	case <-b.js.PublishAsyncComplete():
	case <-ctx.Done():
	}
	if err := b.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		b.nc.Close()
	}
}
