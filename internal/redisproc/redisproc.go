// Package redisproc runs a real redis-server as a child process on a
// loopback port. The embedded default and the test harness both use it so
// that go-redis talks to the same server software as in production.
package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNotInstalled is returned by Start when no redis-server binary is on PATH.
var ErrNotInstalled = errors.New("redis-server not found on PATH (install it, e.g. apt-get install -y redis-server)")

// Options configure a child redis-server. The zero value picks a free port
// and a fresh temporary directory that Stop removes.
type Options struct {
	// Port to listen on; 0 picks a free loopback port.
	Port int
	// Dir holds the server's files and log. Empty means a temporary
	// directory removed by Stop.
	Dir string
	// AppendOnly turns on AOF persistence in Dir.
	AppendOnly bool
	// StartTimeout bounds the wait for the server to answer PING; zero
	// means 10 seconds.
	StartTimeout time.Duration
	// Args are more configuration directives, such as --requirepass.
	Args []string
}

// Proc is a running redis-server child.
type Proc struct {
	cmd     *exec.Cmd
	addr    string
	dir     string
	tempDir bool
	done    chan struct{}
	waitErr error
}

// Start launches redis-server and waits until it answers PING.
func Start(ctx context.Context, opts Options) (*Proc, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	p := &Proc{done: make(chan struct{})}
	if opts.Dir == "" {
		d, err := os.MkdirTemp("", "orchestrate-redis-")
		if err != nil {
			return nil, fmt.Errorf("redis data dir: %w", err)
		}
		opts.Dir, p.tempDir = d, true
	} else if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("redis data dir %s: %w", opts.Dir, err)
	}
	p.dir = opts.Dir
	port := opts.Port
	if port == 0 {
		if port, err = FreePort(); err != nil {
			p.cleanup()
			return nil, err
		}
	}
	p.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	aof := "no"
	if opts.AppendOnly {
		aof = "yes"
	}
	args := append([]string{
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--dir", opts.Dir, "--save", "", "--appendonly", aof,
		"--logfile", filepath.Join(opts.Dir, "redis.log"),
		"--protected-mode", "yes", "--daemonize", "no"}, opts.Args...)
	p.cmd = exec.Command(bin, args...)
	// Own process group, so a signal to our group (Ctrl-C) reaches us
	// first and we stop the server in order.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := p.cmd.Start(); err != nil {
		p.cleanup()
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.done) }()

	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	if err := p.waitReady(ctx, timeout); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// Addr is host:port of the server.
func (p *Proc) Addr() string { return p.addr }

// URL is the redis:// URL of the server.
func (p *Proc) URL() string { return "redis://" + p.addr }

// Dir is the server's data directory.
func (p *Proc) Dir() string { return p.dir }

// Stop terminates the server, waits for it to exit and removes a
// temporary data directory.
func (p *Proc) Stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	p.cleanup()
}

func (p *Proc) cleanup() {
	if p.tempDir {
		_ = os.RemoveAll(p.dir)
	}
}

func (p *Proc) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if ping(p.addr) == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("redis-server on %s exited at start: %v (log: %s)", p.addr, p.waitErr, tail(filepath.Join(p.dir, "redis.log")))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s did not answer PING within %s", p.addr, timeout)
		}
	}
}

// ping speaks just enough RESP to know the server accepts commands.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	// A server that wants a password answers NOAUTH: it is up.
	if reply := string(buf[:n]); !strings.HasPrefix(reply, "+PONG") && !strings.HasPrefix(reply, "-NOAUTH") {
		return fmt.Errorf("unexpected reply %q", buf[:n])
	}
	return nil
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 400 {
		b = b[len(b)-400:]
	}
	return strings.TrimSpace(string(b))
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
