package stack

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/nats-io/nats.go"
)

// Security holds how to authenticate to the servers and verify them,
// beyond what their URLs carry (nats://user:password@host,
// nats://token@host, rediss://user:password@host).
type Security struct {
	// NATSCreds is a NATS credentials file (JWT and NKEY seed).
	NATSCreds string
	// NATSNKey is a file holding an NKEY seed.
	NATSNKey string
	// NATSCA, RedisCA are PEM files of the certificate authorities that
	// sign the servers' certificates; setting one turns TLS on.
	NATSCA, RedisCA string
	// NATSCert/NATSKey and RedisCert/RedisKey are client certificates,
	// for servers that require them.
	NATSCert, NATSKey   string
	RedisCert, RedisKey string
}

// natsOptions turns the NATS settings into client options.
func (s Security) natsOptions() ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case s.NATSCreds != "" && s.NATSNKey != "":
		return nil, errors.New("give NATS either a credentials file or an NKEY seed file, not both")
	case s.NATSCreds != "":
		if err := readable("--nats-creds", s.NATSCreds); err != nil {
			return nil, err
		}
		opts = append(opts, nats.UserCredentials(s.NATSCreds))
	case s.NATSNKey != "":
		opt, err := nats.NkeyOptionFromSeed(s.NATSNKey)
		if err != nil {
			return nil, fmt.Errorf("--nats-nkey %s: %w", s.NATSNKey, err)
		}
		opts = append(opts, opt)
	}
	if s.NATSCA != "" || s.NATSCert != "" {
		cfg, err := tlsConfig("nats", s.NATSCA, s.NATSCert, s.NATSKey)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Secure(cfg))
	}
	return opts, nil
}

// redisTLS returns the TLS configuration for Redis, nil when none is set.
func (s Security) redisTLS() (*tls.Config, error) {
	if s.RedisCA == "" && s.RedisCert == "" {
		return nil, nil
	}
	return tlsConfig("redis", s.RedisCA, s.RedisCert, s.RedisKey)
}

func tlsConfig(server, caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--%s-ca: %w", server, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--%s-ca %s: no PEM certificate in it", server, caFile)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, fmt.Errorf("--%s-cert and --%s-key go together", server, server)
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("--%s-cert/--%s-key: %w", server, server, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func readable(flag, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	return f.Close()
}
