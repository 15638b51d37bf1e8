// Package cli holds the orchestrate commands. Each command has an options
// struct, a NewCmdX constructor that only parses and validates flags, and a
// runX function that does the work, so that both halves are testable.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/planner"
	"github.com/orchestrate-dev/orchestrate/specialists/roleconfig"
)

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3".
var Version = "dev"

// IOStreams are the standard streams of a command, replaceable in tests.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// Globals are the settings every command shares.
type Globals struct {
	NATS      string
	Redis     string
	Prefix    string
	DataDir   string
	LogLevel  string
	LogFormat string
	Config    string
	// MaxDeliver bounds the deliveries of one task publication, cluster
	// wide: set it the same on every node (ORCHESTRATE_MAX_DELIVER).
	MaxDeliver int
	// AckWait is how long a delivered task may go without a sign of life
	// before JetStream delivers it again.
	AckWait time.Duration
	// Security is what authenticates to the servers beyond their URLs.
	Security stack.Security
	// RoleMaxDeliver are ROLE=N overrides of MaxDeliver.
	RoleMaxDeliver []string
	// StreamReplicas is the replication of the JetStream streams.
	StreamReplicas int
	// RolesConfig is the roles.yaml that gives roles other executors.
	RolesConfig string
	// NoCache bypasses the llm executors' response cache.
	NoCache bool
	// BudgetUSD bounds the model costs of the jobs this command submits;
	// zero keeps the plan's own.
	BudgetUSD float64
}

// budget gives plan the --budget-usd of the command line, if any.
func (f *Factory) budget(plan *planner.Plan) {
	if f.Globals.BudgetUSD > 0 {
		plan.BudgetUSD = f.Globals.BudgetUSD
	}
}

// Factory gives commands their dependencies.
type Factory struct {
	IO      IOStreams
	Globals Globals
	log     *zap.Logger
	// roleMaxDeliver is Globals.RoleMaxDeliver parsed.
	roleMaxDeliver map[string]int
	// roles is Globals.RolesConfig read.
	roles *roleconfig.Config
}

// Logger returns the process logger, built on first use from the log
// flags; it writes to the error stream.
func (f *Factory) Logger() *zap.Logger {
	if f.log != nil {
		return f.log
	}
	level, err := zapcore.ParseLevel(f.Globals.LogLevel)
	if err != nil {
		level = zapcore.WarnLevel
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if f.Globals.LogFormat == "json" {
		enc = zapcore.NewJSONEncoder(encCfg)
	} else {
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	}
	f.log = zap.New(zapcore.NewCore(enc, zapcore.AddSync(f.IO.ErrOut), level))
	return f.log
}

// StackOptions are the stack options from the global settings.
func (f *Factory) StackOptions(embed bool) stack.Options {
	return stack.Options{
		NATSURL: f.Globals.NATS, RedisURL: f.Globals.Redis, Prefix: f.Globals.Prefix,
		Embed: embed, DataDir: f.Globals.DataDir, Log: f.Logger(),
		Broker:   broker.Config{MaxDeliver: f.Globals.MaxDeliver, AckWait: f.Globals.AckWait, RoleMaxDeliver: f.roleMaxDeliver, Replicas: f.Globals.StreamReplicas},
		Security: f.Globals.Security,
		Roles:    f.roles,
		NoCache:  f.Globals.NoCache,
	}
}

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "orchestrate",
		Short: "Turn a goal into a working, tested project with distributed specialist agents",
		Long: `orchestrate decomposes a goal into a plan of subtasks owned by specialist
roles, runs them on worker pools over NATS JetStream, stores what they
produce in Redis, and assembles a project tree whose tests it runs.

With no --nats/--redis (or ORCHESTRATE_NATS_URL/ORCHESTRATE_REDIS_URL),
"run" and "bench" start private embedded servers in-process, and "up" keeps
a local stack running for other terminals. Every flag can also be set with
ORCHESTRATE_<FLAG> (dashes as underscores) or as a key of the config file.

Exit codes:
  0    success
  1    the job failed (or another error not listed here)
  2    usage or bad input: flags, arguments, config file, an unknown job
  3    cannot reach NATS or Redis, or no servers configured
  130  interrupted (SIGINT or SIGTERM) before the command finished`,
		Example: `  orchestrate run "Build production ML system for customer churn prediction with real-time inference" --out ml-system
  orchestrate up
  orchestrate worker --roles data-science-analyst --max-agents 4
  orchestrate submit "Build production ML system for customer churn prediction with real-time inference" --decompose --wait
  orchestrate agents
  orchestrate watch ml-churn-system-20261126t010203-3fa9c1`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) (err error) {
			if err := applyEnvAndConfig(cmd); err != nil {
				return err
			}
			if f.Globals.MaxDeliver < 1 {
				return usagef("--max-deliver %d: want at least 1", f.Globals.MaxDeliver)
			}
			if f.roleMaxDeliver, err = parseRoleMaxDeliver(f.Globals.RoleMaxDeliver); err != nil {
				return err
			}
			if f.Globals.RolesConfig != "" {
				if f.roles, err = roleconfig.Load(f.Globals.RolesConfig); err != nil {
					return usageError{err}
				}
			}
			if b := f.Globals.BudgetUSD; b < 0 || math.IsInf(b, 0) || math.IsNaN(b) {
				return usagef("--budget-usd %v: want US dollars, zero (no bound) or more", b)
			}
			if r := f.Globals.StreamReplicas; r < 1 || r > 5 {
				return usagef("--stream-replicas %d: want 1 to 5", r)
			}
			if f.Globals.AckWait < 100*time.Millisecond {
				return usagef("--ack-wait %s: want at least 100ms", f.Globals.AckWait)
			}
			return nil
		},
	}
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetIn(f.IO.In)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&f.Globals.NATS, "nats", "", "NATS server URL (env ORCHESTRATE_NATS_URL); empty starts an embedded server where the command allows it")
	pf.StringVar(&f.Globals.Redis, "redis", "", "Redis URL, redis:// or rediss:// (env ORCHESTRATE_REDIS_URL); empty starts an embedded server where the command allows it")
	pf.StringVar(&f.Globals.Prefix, "prefix", "orch:", "prefix of every Redis key")
	pf.StringVar(&f.Globals.DataDir, "data-dir", stack.DefaultDataDir(), "where embedded servers keep their files")
	pf.StringVar(&f.Globals.LogLevel, "log-level", "warn", "log level: debug, info, warn, error")
	pf.StringVar(&f.Globals.LogFormat, "log-format", "console", "log format: console or json")
	pf.IntVar(&f.Globals.MaxDeliver, "max-deliver", 5, "deliveries of a task before it goes to the dead letters; the same on every node (env ORCHESTRATE_MAX_DELIVER)")
	pf.StringSliceVar(&f.Globals.RoleMaxDeliver, "max-deliver-role", nil, "ROLE=N: deliveries of a task of that role before it goes to the dead letters, overriding --max-deliver (repeatable)")
	pf.StringVar(&f.Globals.RolesConfig, "roles-config", "", "roles.yaml giving some roles another executor than their builtin skills (see docs/specialists.md)")
	pf.Float64Var(&f.Globals.BudgetUSD, "budget-usd", 0, "bound on what the model calls of a submitted job may cost, in US dollars; a task that finds it spent fails permanently (0: the plan's budget_usd, else none)")
	pf.BoolVar(&f.Globals.NoCache, "no-cache", false, "llm executors call their models for every request: no cached response is replayed, none is stored")
	pf.IntVar(&f.Globals.StreamReplicas, "stream-replicas", 1, "replicas of each JetStream stream (3 in a NATS cluster); set where streams are created (broker init)")
	pf.DurationVar(&f.Globals.AckWait, "ack-wait", 30*time.Second, "how long a delivered task may go without a sign of life before it is delivered again (workers renew it while they run it); the same on every node")
	sec := &f.Globals.Security
	pf.StringVar(&sec.NATSCreds, "nats-creds", "", "NATS credentials file (JWT and NKEY seed)")
	pf.StringVar(&sec.NATSNKey, "nats-nkey", "", "file holding a NATS NKEY seed")
	pf.StringVar(&sec.NATSCA, "nats-ca", "", "PEM file of the CA that signs the NATS server's certificate (turns TLS on)")
	pf.StringVar(&sec.NATSCert, "nats-cert", "", "client certificate for NATS (PEM), with --nats-key")
	pf.StringVar(&sec.NATSKey, "nats-key", "", "client key for NATS (PEM)")
	pf.StringVar(&sec.RedisCA, "redis-ca", "", "PEM file of the CA that signs the Redis server's certificate (with a rediss:// URL)")
	pf.StringVar(&sec.RedisCert, "redis-cert", "", "client certificate for Redis (PEM), with --redis-key")
	pf.StringVar(&sec.RedisKey, "redis-key", "", "client key for Redis (PEM)")
	pf.StringVar(&f.Globals.Config, "config", "", "config file (YAML, keys are flag names); default $XDG_CONFIG_HOME/orchestrate/config.yaml when it exists")

	root.AddCommand(
		NewCmdRun(f, nil),
		NewCmdWorker(f, nil),
		NewCmdSubmit(f, nil),
		NewCmdExecutePlan(f, nil),
		NewCmdDLQ(f, nil),
		NewCmdBroker(f, nil),
		NewCmdReplay(f, nil),
		NewCmdPlan(f, nil),
		NewCmdPlans(f, nil),
		NewCmdStatus(f, nil),
		NewCmdJobs(f, nil),
		NewCmdCollect(f, nil),
		NewCmdUp(f, nil),
		NewCmdBench(f, nil),
		NewCmdDatagen(f, nil),
		NewCmdTrain(f, nil),
		NewCmdVersion(f),
		NewCmdAgents(f, nil),
		NewCmdWatch(f, nil),
	)
	addBuiltinCommands(root)
	return root
}

// NewCmdVersion prints the version.
func NewCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Example: `  orchestrate version`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(f.IO.Out, "orchestrate", Version)
			return err
		},
	}
}

// Exit codes, documented in the README.
const (
	ExitOK          = 0
	ExitJobFailed   = 1
	ExitUsage       = 2
	ExitUnreachable = 3
	ExitInterrupted = 130
)

// ErrJobFailed: the job ended in a state other than succeeded.
var ErrJobFailed = errors.New("job failed")

// usageError marks bad flags or arguments.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// usageArgs makes a wrong number of arguments a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// ExitCode maps an error to the process exit code. It is the only place
// that knows the mapping.
func ExitCode(err error) int {
	var u usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, broker.ErrUnreachable), errors.Is(err, stack.ErrRedisUnreachable), errors.Is(err, stack.ErrNoServers):
		return ExitUnreachable
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &u), isBadInput(err):
		return ExitUsage
	default:
		return ExitJobFailed
	}
}

// Execute runs the command line and returns the exit code. SIGINT and
// SIGTERM cancel the command's context, which commands treat as a request
// to shut down gracefully.
func Execute(args []string, streams IOStreams) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f := &Factory{IO: streams}
	root := NewRootCmd(f)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if f.log != nil {
		_ = f.log.Sync()
	}
	if err != nil {
		fmt.Fprintln(streams.ErrOut, "orchestrate:", err)
		code := ExitCode(err)
		if code == ExitUsage && errors.As(err, new(usageError)) {
			fmt.Fprintln(streams.ErrOut, "Run 'orchestrate --help' for usage.")
		}
		return code
	}
	return ExitOK
}

// parseRoleMaxDeliver reads ROLE=N overrides.
func parseRoleMaxDeliver(pairs []string) (map[string]int, error) {
	out := map[string]int{}
	for _, p := range pairs {
		role, n, ok := strings.Cut(p, "=")
		v, err := strconv.Atoi(n)
		if !ok || !broker.ValidID(role) || err != nil || v < 1 {
			return nil, usagef("--max-deliver-role %q: want ROLE=N with N at least 1", p)
		}
		out[role] = v
	}
	return out, nil
}
