package broker

import (
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedOptions configure an in-process nats-server.
type EmbeddedOptions struct {
	// Host to listen on; empty means 127.0.0.1.
	Host string
	// Port to listen on; 0 or -1 picks a free port.
	Port int
	// StoreDir holds JetStream's file store; required.
	StoreDir string
}

// Embedded is a nats-server with JetStream running inside this process.
type Embedded struct{ srv *server.Server }

// StartEmbedded starts a JetStream-enabled nats-server and waits until it
// accepts connections.
func StartEmbedded(opts EmbeddedOptions) (*Embedded, error) {
	if opts.StoreDir == "" {
		return nil, fmt.Errorf("embedded nats: no store directory")
	}
	if err := os.MkdirAll(opts.StoreDir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded nats: store directory %s: %w", opts.StoreDir, err)
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Port == 0 {
		opts.Port = -1
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "orchestrate-embedded",
		Host:       opts.Host,
		Port:       opts.Port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		// The embedded server serves one machine's agents; large task
		// bursts (a 20,000-task job) should not hit the default limits.
		MaxPayload: 8 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats on %s:%d did not start within 15s (port in use?)", opts.Host, opts.Port)
	}
	return &Embedded{srv: srv}, nil
}

// ClientURL is the nats:// URL clients connect to.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits for it.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
