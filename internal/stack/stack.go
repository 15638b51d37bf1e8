// Package stack connects a process to the servers the system runs on —
// NATS with JetStream and Redis — or, when none are named, starts them
// embedded, so that every command runs the same code paths either way.
package stack

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/collector"
	"github.com/orchestrate-dev/orchestrate/internal/keys"
	"github.com/orchestrate-dev/orchestrate/internal/redisproc"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists"
	"github.com/orchestrate-dev/orchestrate/specialists/builtin"
	"github.com/orchestrate-dev/orchestrate/specialists/diag"
	"github.com/orchestrate-dev/orchestrate/specialists/execagent"
	"github.com/orchestrate-dev/orchestrate/specialists/llmagent"
	"github.com/orchestrate-dev/orchestrate/specialists/roleconfig"
	"github.com/orchestrate-dev/orchestrate/workers"
)

// ErrNoServers is returned when a command that needs shared servers is
// given none.
var ErrNoServers = errors.New("no servers configured: pass --nats and --redis (or set ORCHESTRATE_NATS_URL and ORCHESTRATE_REDIS_URL; `orchestrate up` prints them for a local stack)")

// ErrRedisUnreachable wraps failures to reach Redis.
var ErrRedisUnreachable = errors.New("cannot reach Redis")

// Options say where the servers are.
type Options struct {
	NATSURL  string
	RedisURL string
	// Embed starts embedded servers for whichever URL is empty; without
	// it an empty URL is ErrNoServers.
	Embed bool
	// DataDir holds the embedded servers' storage; required with Embed.
	DataDir string
	// NATSPort and RedisPort choose the embedded servers' ports; zero
	// picks free ones.
	NATSPort, RedisPort int
	// Persist keeps the embedded Redis's data on disk (AOF) across
	// restarts, as `orchestrate up` wants; a private stack that is
	// removed afterwards does without the cost.
	Persist bool
	// Prefix of every Redis key; empty means "orch:".
	Prefix string
	Broker broker.Config
	// Security authenticates to the servers and verifies them.
	Security Security
	// Roles, when set, gives some roles another executor than their
	// builtin skills (roles.yaml).
	Roles *roleconfig.Config
	// NoCache makes the llm executors call their models for every request
	// instead of replaying cached responses (none are stored either).
	NoCache bool
	// Name identifies this client to the NATS server.
	Name string
	Log  *zap.Logger
}

// Stack is a process's view of the system's servers.
type Stack struct {
	NATSURL  string
	RedisURL string
	// EmbeddedRedis names the kind of embedded Redis ("redis-server" or
	// "miniredis"), empty when external.
	EmbeddedRedis string

	Broker *broker.Broker
	Redis  redis.UniversalClient
	Ledger *planner.Ledger
	Store  *artifacts.Store
	Skills *specialists.Registry
	Prefix string
	// LLMCache keeps the model responses of llm executors and the llm
	// planner; nil with Options.NoCache.
	LLMCache llmagent.Cache

	closers []func()
}

// Open connects to (or starts) the servers. The error of an unreachable
// server names its URL and comes within a few seconds.
func Open(ctx context.Context, opts Options) (*Stack, error) {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	redis.SetLogger(redisLogger{opts.Log})
	if opts.Name == "" {
		opts.Name = "orchestrate"
	}
	s := &Stack{Prefix: opts.Prefix}
	fail := func(err error) (*Stack, error) { s.Close(); return nil, err }

	if (opts.NATSURL == "" || opts.RedisURL == "") && !opts.Embed {
		return nil, ErrNoServers
	}
	if opts.NATSURL == "" {
		e, err := broker.StartEmbedded(broker.EmbeddedOptions{Port: opts.NATSPort, StoreDir: filepath.Join(opts.DataDir, "nats")})
		if err != nil {
			return fail(err)
		}
		s.closers = append(s.closers, e.Shutdown)
		opts.NATSURL = e.ClientURL()
		opts.Log.Debug("embedded nats started", zap.String("url", opts.NATSURL))
	}
	if opts.RedisURL == "" {
		url, kind, stop, err := startRedis(ctx, filepath.Join(opts.DataDir, "redis"), opts.RedisPort, opts.Persist)
		if err != nil {
			return fail(err)
		}
		s.closers = append(s.closers, stop)
		opts.RedisURL, s.EmbeddedRedis = url, kind
		opts.Log.Debug("embedded redis started", zap.String("url", url), zap.String("kind", kind))
	}
	s.NATSURL, s.RedisURL = opts.NATSURL, opts.RedisURL

	redisTLS, err := opts.Security.redisTLS()
	if err != nil {
		return fail(err)
	}
	natsOpts, err := opts.Security.natsOptions()
	if err != nil {
		return fail(err)
	}
	rdb, err := ConnectRedis(ctx, opts.RedisURL, redisTLS)
	if err != nil {
		return fail(err)
	}
	s.Redis = rdb
	s.closers = append(s.closers, func() { _ = rdb.Close() })

	nc, err := broker.Connect(ctx, opts.NATSURL, opts.Name, natsOpts...)
	if err != nil {
		return fail(err)
	}
	b, err := broker.New(nc, opts.Broker)
	if err != nil {
		nc.Close()
		return fail(err)
	}
	s.Broker = b
	s.closers = append(s.closers, func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.Close(cctx)
	})

	s.Ledger = planner.NewLedger(rdb, opts.Prefix)
	s.Store = artifacts.NewStore(rdb, opts.Prefix, artifacts.Limits{})
	s.Skills = Skills(s.Store, &collector.ScratchRedis{Client: rdb, URL: opts.RedisURL, Prefix: keys.New(opts.Prefix).Prefix})
	// Model responses are kept for a month: long enough for any replay.
	if !opts.NoCache {
		s.LLMCache = llmagent.NewRedisCache(rdb, keys.New(opts.Prefix).Prefix+"llmcache:", 30*24*time.Hour)
	}
	if err := ApplyRoles(s.Skills, opts.Roles, s.LLMCache); err != nil {
		return fail(err)
	}
	return s, nil
}

// Skills builds the registry of every builtin role: the five specialists,
// the collector and the diagnostic role. scratch lends the collector's
// test runs a Redis; nil lends none.
func Skills(store *artifacts.Store, scratch *collector.ScratchRedis) *specialists.Registry {
	r := specialists.NewRegistry()
	builtin.Register(r)
	diag.Register(r)
	r.Register(specialists.RoleCollector, "assemble", collector.Skill(store, collector.RunOptions{}, scratch))
	return r
}

// ApplyRoles replaces the skills of the roles rc configures: an exec role
// runs its program for every skill of the role, so that the plans made for
// the builtin skills still validate. A nil rc changes nothing.
//
// cache, when not nil, keeps the llm executor's model responses, so that a
// task run again replays the calls it already paid for.
func ApplyRoles(r *specialists.Registry, rc *roleconfig.Config, cache llmagent.Cache) error {
	if rc == nil {
		return nil
	}
	for role, cfg := range rc.Roles {
		if !r.HasRole(role) {
			return fmt.Errorf("%w: roles.%s: unknown role (known: %s)", roleconfig.ErrInvalid, role, strings.Join(r.Roles(), ", "))
		}
		switch cfg.Executor {
		case roleconfig.ExecutorExec:
			skill := execagent.Skill(execagent.Config{Command: cfg.Command, Timeout: time.Duration(cfg.Timeout),
				PermanentExitCodes: cfg.PermanentExitCodes, Env: cfg.Env})
			for _, name := range append(r.Skills(role), specialists.SkillFreeForm) {
				r.Register(role, name, skill)
			}
		case roleconfig.ExecutorLLM:
			if cfg.Provider != llmagent.ProviderAnthropic && cfg.Provider != llmagent.ProviderOpenAI {
				return fmt.Errorf("%w: roles.%s: unknown provider %q; use %s or %s", roleconfig.ErrInvalid, role, cfg.Provider, llmagent.ProviderAnthropic, llmagent.ProviderOpenAI)
			}
			skill := llmagent.Skill(llmagent.Config{Provider: cfg.Provider, Model: cfg.Model, BaseURL: cfg.BaseURL, APIKeyEnv: cfg.APIKeyEnv, APIKeyFile: cfg.APIKeyFile,
				MaxTurns: cfg.MaxTurns, MaxTokens: cfg.MaxTokens, Temperature: cfg.Temperature, SystemPrompt: cfg.SystemPrompt, Timeout: time.Duration(cfg.Timeout),
				Cache: cache, BudgetUSD: cfg.BudgetUSD, Prices: Prices(rc), RunTimeout: time.Duration(cfg.RunTimeout)})
			for _, name := range append(r.Skills(role), specialists.SkillFreeForm) {
				r.Register(role, name, skill)
			}
		}
	}
	return nil
}

// Prices are the price table of rc in the llm executor's form.
func Prices(rc *roleconfig.Config) map[string]llmagent.Price {
	out := map[string]llmagent.Price{}
	for m, p := range rc.Prices {
		out[m] = llmagent.Price{InputPerMTok: p.InputPerMTok, OutputPerMTok: p.OutputPerMTok}
	}
	return out
}

// Submitter returns a submitter over the stack.
func (s *Stack) Submitter() *planner.Submitter {
	return &planner.Submitter{Ledger: s.Ledger, Broker: s.Broker, Skills: s.Skills}
}

// PoolDeps are the dependencies of a worker pool over the stack.
func (s *Stack) PoolDeps(log *zap.Logger) workers.Deps {
	return workers.Deps{Broker: s.Broker, Ledger: s.Ledger, Store: s.Store, Skills: s.Skills, Redis: s.Redis, Log: log}
}

// OnClose runs fn when the stack closes, after everything else stopped.
func (s *Stack) OnClose(fn func()) { s.closers = append([]func(){fn}, s.closers...) }

// Close disconnects and stops embedded servers, in reverse order of start.
func (s *Stack) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// ConnectRedis opens a client for a redis:// or rediss:// URL and checks
// that the server answers; failure names the URL without its password.
func ConnectRedis(ctx context.Context, rawURL string, tlsConfig *tls.Config) (redis.UniversalClient, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis url %s: %w", broker.Redact(rawURL), err)
	}
	if tlsConfig != nil {
		if opt.TLSConfig == nil {
			return nil, fmt.Errorf("redis url %s: TLS settings given for a redis:// URL; use rediss://", broker.Redact(rawURL))
		}
		tlsConfig = tlsConfig.Clone()
		tlsConfig.ServerName = opt.TLSConfig.ServerName
		opt.TLSConfig = tlsConfig
	}
	opt.DialTimeout = 3 * time.Second
	opt.MaxRetries = 3
	opt.PoolSize = 64
	rdb := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("%w at %s: %v", ErrRedisUnreachable, broker.Redact(rawURL), err)
	}
	return rdb, nil
}

// startRedis runs a real redis-server child when one is installed, and the
// in-process miniredis otherwise.
func startRedis(ctx context.Context, dir string, port int, persist bool) (url, kind string, stop func(), err error) {
	p, err := redisproc.Start(ctx, redisproc.Options{Dir: dir, Port: port, AppendOnly: persist})
	if err == nil {
		return p.URL(), "redis-server", p.Stop, nil
	}
	if !errors.Is(err, redisproc.ErrNotInstalled) {
		return "", "", nil, fmt.Errorf("embedded redis: %w", err)
	}
	m := miniredis.NewMiniRedis()
	addr := "127.0.0.1:0"
	if port != 0 {
		addr = fmt.Sprintf("127.0.0.1:%d", port)
	}
	if err := m.StartAddr(addr); err != nil {
		return "", "", nil, fmt.Errorf("embedded miniredis on %s: %w", addr, err)
	}
	return "redis://" + m.Addr(), "miniredis", m.Close, nil
}

// redisLogger sends go-redis's own messages (reconnects, pool trouble)
// through zap instead of the standard logger.
type redisLogger struct{ log *zap.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug("redis client: " + fmt.Sprintf(format, v...))
}

// DefaultDataDir is where embedded servers keep their files: the user's
// cache directory, or a temporary one when there is none.
func DefaultDataDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "orchestrate")
	}
	return filepath.Join(os.TempDir(), "orchestrate")
}
