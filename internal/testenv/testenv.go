// Package testenv starts the real servers that tests talk to: a nats-server
// with JetStream inside the test process and a redis-server child process,
// each on a free loopback port with temporary storage.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/orchestrate-dev/orchestrate/internal/redisproc"
)

// RedisURLEnv names an external Redis to use instead of starting one.
const RedisURLEnv = "ORCHESTRATE_TEST_REDIS_URL"

// NATS is a running in-process nats-server.
type NATS struct {
	Server   *server.Server
	StoreDir string
}

// URL is the client URL of the server.
func (n *NATS) URL() string { return n.Server.ClientURL() }

// StartNATS runs a JetStream-enabled nats-server on a free port with a
// temporary file store; it is shut down when the test ends.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	dir := t.TempDir()
	n := &NATS{StoreDir: dir}
	n.Server = startNATS(t, -1, dir)
	t.Cleanup(func() {
		n.Server.Shutdown()
		n.Server.WaitForShutdown()
	})
	return n
}

func startNATS(t testing.TB, port int, dir string) *server.Server {
	t.Helper()
	return startNATSWith(t, &server.Options{Port: port, StoreDir: dir})
}

// StartNATSWith runs a nats-server with opts (authentication, TLS) on top
// of the defaults of StartNATS: loopback, a free port, JetStream in a
// temporary store. It is shut down when the test ends.
func StartNATSWith(t testing.TB, opts server.Options) *server.Server {
	t.Helper()
	if opts.Port == 0 {
		opts.Port = -1
	}
	if opts.StoreDir == "" {
		opts.StoreDir = t.TempDir()
	}
	s := startNATSWith(t, &opts)
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

func startNATSWith(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.JetStream, opts.NoSigs, opts.NoLog = "127.0.0.1", true, true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats-server did not become ready")
	}
	return s
}

// Connect opens a client connection to n, closed when the test ends.
func (n *NATS) Connect(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatalf("connect to nats: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Redis is a Redis server for one test, with a key prefix no other test
// shares.
type Redis struct {
	URL    string
	Prefix string
	Proc   *redisproc.Proc // nil when an external server is used
}

// StartRedis starts a redis-server child on a free port (or uses the server
// named by ORCHESTRATE_TEST_REDIS_URL) and stops it when the test ends. A
// machine with neither fails the test with what to install.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	prefix := "test-" + randHex(6) + ":"
	if url := os.Getenv(RedisURLEnv); url != "" {
		return &Redis{URL: url, Prefix: prefix}
	}
	p, err := redisproc.Start(context.Background(), redisproc.Options{})
	if errors.Is(err, redisproc.ErrNotInstalled) {
		t.Fatalf("tests need a real Redis: install redis-server (apt-get install -y redis-server) or set %s", RedisURLEnv)
	}
	if err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(p.Stop)
	return &Redis{URL: p.URL(), Prefix: prefix, Proc: p}
}

// Client opens a go-redis client to r, closed when the test ends.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(r.URL)
	if err != nil {
		t.Fatalf("parse redis url: %v", err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Eventually polls cond every few milliseconds until it holds or the
// deadline passes, then fails the test with msg.
func Eventually(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", timeout, msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Restart shuts the server down and starts it again on the same port with
// the same store, as an operator's restart would: clients see the
// connection drop and reconnect, and JetStream recovers its streams.
func (n *NATS) Restart(t testing.TB) {
	t.Helper()
	port := n.Server.Addr().(*net.TCPAddr).Port
	n.Server.Shutdown()
	n.Server.WaitForShutdown()
	n.Server = startNATS(t, port, n.StoreDir)
}
