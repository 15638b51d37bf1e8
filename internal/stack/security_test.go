package stack_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"

	"github.com/orchestrate-dev/orchestrate/broker"
	"github.com/orchestrate-dev/orchestrate/internal/redisproc"
	"github.com/orchestrate-dev/orchestrate/internal/stack"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
)

// testCA signs certificates for 127.0.0.1, generated for each test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string
	// File is the CA certificate's PEM file.
	File string
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "orchestrate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, dir: t.TempDir()}
	ca.File = writePEM(t, ca.dir, "ca.pem", "CERTIFICATE", der)
	return ca
}

// issue writes a certificate and key for 127.0.0.1 and returns their files.
func (ca *testCA) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, ca.dir, name+".pem", "CERTIFICATE", der), writePEM(t, ca.dir, name+"-key.pem", "EC PRIVATE KEY", kb)
}

func writePEM(t *testing.T, dir, name, kind string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startSecureNATS runs a nats-server that requires TLS with client
// certificates signed by ca, and a user and password.
func startSecureNATS(t *testing.T, ca *testCA) string {
	t.Helper()
	certFile, keyFile := ca.issue(t, "nats-server", x509.ExtKeyUsageServerAuth)
	tlsCfg, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: certFile, KeyFile: keyFile, CaFile: ca.File, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	s := testenv.StartNATSWith(t, server.Options{Username: "orch", Password: "n4ts-s3cret",
		TLS: true, TLSVerify: true, TLSConfig: tlsCfg, TLSTimeout: 2})
	return strings.Replace(s.ClientURL(), "nats://", "tls://", 1)
}

// startAuthRedis runs a redis-server with a default password and an ACL
// user.
func startAuthRedis(t *testing.T) string {
	t.Helper()
	p, err := redisproc.Start(context.Background(), redisproc.Options{Args: []string{
		"--requirepass", "r3dis-s3cret", "--user", "orch", "on", ">acl-s3cret", "~*", "&*", "+@all"}})
	if errors.Is(err, redisproc.ErrNotInstalled) {
		t.Fatal("tests need a real Redis: install redis-server (apt-get install -y redis-server)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p.Addr()
}

func TestAuthenticatedEncryptedConnections(t *testing.T) {
	ctx := context.Background()
	ca := newCA(t)
	natsURL := startSecureNATS(t, ca)
	redisAddr := startAuthRedis(t)
	clientCert, clientKey := ca.issue(t, "orchestrate", x509.ExtKeyUsageClientAuth)
	withUser := strings.Replace(natsURL, "tls://", "tls://orch:n4ts-s3cret@", 1)
	sec := stack.Security{NATSCA: ca.File, NATSCert: clientCert, NATSKey: clientKey}

	st, err := stack.Open(ctx, stack.Options{NATSURL: withUser, RedisURL: "redis://orch:acl-s3cret@" + redisAddr, Prefix: "sec:", Security: sec, Log: zap.NewNop()})
	if err != nil {
		t.Fatalf("with credentials: %v", err)
	}
	if js := runDiagJob(t, st); js.State != "succeeded" {
		t.Errorf("job over authenticated connections: %s", js.State)
	}
	st.Close()

	for _, tc := range []struct {
		name            string
		nats, redis     string
		sec             stack.Security
		want            []string
		target          error
		mustNotMentions []string
	}{
		{"NATS without a password", natsURL, "redis://orch:acl-s3cret@" + redisAddr, sec,
			[]string{natsURL, "authorization violation"}, broker.ErrUnreachable, nil},
		{"NATS with a wrong password", strings.Replace(natsURL, "tls://", "tls://orch:wrong-guess@", 1), "redis://orch:acl-s3cret@" + redisAddr, sec,
			[]string{"authorization violation"}, broker.ErrUnreachable, []string{"wrong-guess"}},
		{"NATS without the client certificate", withUser, "redis://orch:acl-s3cret@" + redisAddr, stack.Security{NATSCA: ca.File},
			[]string{"tls://orch:xxxxx@127.0.0.1"}, broker.ErrUnreachable, []string{"n4ts-s3cret"}},
		{"NATS without the CA", withUser, "redis://orch:acl-s3cret@" + redisAddr, stack.Security{NATSCert: clientCert, NATSKey: clientKey},
			[]string{"certificate"}, broker.ErrUnreachable, []string{"n4ts-s3cret"}},
		{"Redis without a password", withUser, "redis://" + redisAddr, sec,
			[]string{"redis://" + redisAddr, "NOAUTH"}, stack.ErrRedisUnreachable, nil},
		{"Redis with a wrong password", withUser, "redis://orch:wrong-guess@" + redisAddr, sec,
			[]string{"WRONGPASS"}, stack.ErrRedisUnreachable, []string{"wrong-guess"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			st, err := stack.Open(ctx, stack.Options{NATSURL: tc.nats, RedisURL: tc.redis, Prefix: "sec:", Security: tc.sec, Log: zap.NewNop()})
			if err == nil {
				st.Close()
				t.Fatal("connected")
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s to fail, want under 10s", d)
			}
			if !errors.Is(err, tc.target) {
				t.Errorf("err = %v, want %v", err, tc.target)
			}
			msg := strings.ToLower(err.Error())
			for _, w := range tc.want {
				if !strings.Contains(msg, strings.ToLower(w)) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			for _, secret := range append(tc.mustNotMentions, "n4ts-s3cret", "acl-s3cret", "r3dis-s3cret") {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows the secret %q", err, secret)
				}
			}
		})
	}
}

// Redis over TLS: a rediss:// URL with the CA verifies the server and
// presents a client certificate; without the CA the connection is refused
// naming the certificate problem.
func TestRedisOverTLS(t *testing.T) {
	ctx := context.Background()
	ca := newCA(t)
	serverCert, serverKey := ca.issue(t, "redis-server", x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := ca.issue(t, "orchestrate-redis", x509.ExtKeyUsageClientAuth)
	tlsPort, err := redisproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p, err := redisproc.Start(ctx, redisproc.Options{Args: []string{
		"--tls-port", strconv.Itoa(tlsPort), "--tls-cert-file", serverCert, "--tls-key-file", serverKey,
		"--tls-ca-cert-file", ca.File, "--tls-auth-clients", "yes", "--requirepass", "r3dis-s3cret"}})
	if err != nil {
		t.Fatalf("redis-server with TLS: %v", err)
	}
	t.Cleanup(p.Stop)
	natsURL := startPlainNATS(t)
	url := "rediss://:r3dis-s3cret@127.0.0.1:" + strconv.Itoa(tlsPort)
	st, err := stack.Open(ctx, stack.Options{NATSURL: natsURL, RedisURL: url, Prefix: "tls:", Log: zap.NewNop(),
		Security: stack.Security{RedisCA: ca.File, RedisCert: clientCert, RedisKey: clientKey}})
	if err != nil {
		t.Fatalf("over TLS: %v", err)
	}
	if js := runDiagJob(t, st); js.State != "succeeded" {
		t.Errorf("job over Redis TLS: %s", js.State)
	}
	st.Close()
	start := time.Now()
	_, err = stack.Open(ctx, stack.Options{NATSURL: natsURL, RedisURL: url, Prefix: "tls:", Log: zap.NewNop()})
	if !errors.Is(err, stack.ErrRedisUnreachable) || !strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "r3dis-s3cret") {
		t.Errorf("without the CA: err = %v, want a certificate problem without the password", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s to fail", d)
	}
	if _, err := stack.Open(ctx, stack.Options{NATSURL: natsURL, RedisURL: "redis://127.0.0.1:" + strconv.Itoa(tlsPort), Log: zap.NewNop(),
		Security: stack.Security{RedisCA: ca.File}}); err == nil || !strings.Contains(err.Error(), "use rediss://") {
		t.Errorf("TLS settings with redis://: err = %v", err)
	}
}

func startPlainNATS(t *testing.T) string {
	t.Helper()
	return testenv.StartNATSWith(t, server.Options{}).ClientURL()
}

func TestBadSecuritySettingsAreNamed(t *testing.T) {
	for _, tc := range []struct {
		sec  stack.Security
		want string
	}{
		{stack.Security{NATSCA: "/no/such/ca.pem"}, "--nats-ca"},
		{stack.Security{NATSCert: "/no/cert.pem"}, "--nats-cert and --nats-key go together"},
		{stack.Security{NATSCreds: "/no/creds", NATSNKey: "/no/seed"}, "not both"},
		{stack.Security{NATSCreds: "/no/creds"}, "--nats-creds"},
		{stack.Security{RedisCA: "/no/ca.pem"}, "--redis-ca"},
	} {
		_, err := stack.Open(context.Background(), stack.Options{NATSURL: "nats://127.0.0.1:1", RedisURL: "redis://127.0.0.1:1", Security: tc.sec, Log: zap.NewNop()})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want one naming %q", tc.sec, err, tc.want)
		}
	}
}
