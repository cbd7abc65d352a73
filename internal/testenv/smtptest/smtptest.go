// Package smtptest runs a real SMTP server process (the smtpsink command beside it)
// for tests, and reads back the messages it received, decoded, so a test can check
// what a user's mailbox would show.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed smtpsink/main.go
var sinkSource []byte

// TLSMode says how the server speaks TLS.
type TLSMode string

// The server's TLS modes.
const (
	TLSNone     TLSMode = "none"     // plain SMTP only
	TLSStartTLS TLSMode = "starttls" // plain SMTP that offers STARTTLS
	TLSImplicit TLSMode = "implicit" // TLS from the first byte (as on port 465)
)

// Option changes how Start runs the server.
type Option func(*options)

type options struct {
	user, pass string
	tls        TLSMode
}

// WithAuth makes the server require AUTH PLAIN with this user and password before it
// accepts a message.
func WithAuth(user, pass string) Option {
	return func(o *options) { o.user, o.pass = user, pass }
}

// WithTLS makes the server offer STARTTLS or speak implicit TLS, with a self-signed
// certificate for 127.0.0.1 and localhost that Server.CertPool trusts.
func WithTLS(mode TLSMode) Option {
	return func(o *options) { o.tls = mode }
}

// Server is a running smtpsink process. It is stopped when the test ends.
type Server struct {
	addr       string
	dir        string
	user, pass string
	pool       *x509.CertPool

	mu   sync.Mutex
	seen map[string]bool // message files already returned by WaitForMessage
}

// Start builds smtpsink (once per test binary) and starts it on 127.0.0.1 with a
// fresh mailbox directory. The process is killed when t's test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{tls: TLSNone}
	for _, opt := range opts {
		opt(&o)
	}

	bin, err := sinkBinary()
	if err != nil {
		t.Fatalf("smtptest: build smtpsink: %v", err)
	}

	s := &Server{dir: t.TempDir(), user: o.user, pass: o.pass, seen: map[string]bool{}}
	args := []string{"-dir", s.dir, "-tls", string(o.tls)}
	if o.user != "" {
		args = append(args, "-user", o.user)
	}
	if o.tls != TLSNone {
		certFile, keyFile, pool, err := writeCert(t.TempDir())
		if err != nil {
			t.Fatalf("smtptest: make certificate: %v", err)
		}
		s.pool = pool
		args = append(args, "-cert", certFile, "-key", keyFile)
	}

	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "SMTPSINK_PASSWORD="+o.pass)
	stdin, err := cmd.StdinPipe() // closing it (or our death) tells smtpsink to exit
	if err != nil {
		t.Fatalf("smtptest: %v", err)
	}
	addrc := make(chan string, 1)
	cmd.Stdout = &firstLine{c: addrc}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("smtptest: start smtpsink: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("smtpsink stderr:\n%s", stderr.String())
		}
	})

	select {
	case s.addr = <-addrc:
	case <-done:
		t.Fatalf("smtptest: smtpsink exited before printing its address: %s", stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("smtptest: smtpsink did not print its address within 30s; stderr: %s", stderr.String())
	}
	if _, _, err := net.SplitHostPort(s.addr); err != nil {
		t.Fatalf("smtptest: smtpsink did not start (printed %q): %s", s.addr, stderr.String())
	}
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Host is the server's IP address (always 127.0.0.1).
func (s *Server) Host() string {
	h, _, _ := net.SplitHostPort(s.addr)
	return h
}

// Port is the server's TCP port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Username is the user AUTH PLAIN must present, or "" when the server needs no auth.
func (s *Server) Username() string { return s.user }

// Password is the password AUTH PLAIN must present.
func (s *Server) Password() string { return s.pass }

// CertPool trusts the server's self-signed certificate; it is nil without WithTLS.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// WaitForMessage waits up to timeout for a message whose envelope recipients include
// to (compared case-insensitively) that no earlier call returned, and returns it
// parsed. It fails the test when none arrives in time.
func (s *Server) WaitForMessage(t testing.TB, to string, timeout time.Duration) Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m, ok, err := s.next(to)
		if err != nil {
			t.Fatalf("smtptest: %v", err)
		}
		if ok {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("smtptest: no message to %s within %v (%d message(s) received in all)", to, timeout, s.count())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// next returns the oldest unseen message for to, if there is one.
func (s *Server) next(to string) (Message, bool, error) {
	names, err := filepath.Glob(filepath.Join(s.dir, "*.eml"))
	if err != nil {
		return Message{}, false, err
	}
	slices.Sort(names)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range names {
		if s.seen[name] {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			return Message{}, false, err
		}
		m, err := parseFile(data)
		if err != nil {
			return Message{}, false, fmt.Errorf("parse %s: %w", filepath.Base(name), err)
		}
		if slices.ContainsFunc(m.EnvelopeTo, func(rcpt string) bool { return strings.EqualFold(rcpt, to) }) {
			s.seen[name] = true
			return m, true, nil
		}
	}
	return Message{}, false, nil
}

func (s *Server) count() int {
	names, _ := filepath.Glob(filepath.Join(s.dir, "*.eml"))
	return len(names)
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// sinkBinary builds smtpsink once per process. The binary is kept in the user's cache
// directory under a name derived from its source, go.mod, go.sum and the Go version, so
// repeated test runs reuse it and nothing piles up in the temporary directory.
func sinkBinary() (string, error) {
	buildOnce.Do(func() { buildPath, buildErr = buildSink() })
	return buildPath, buildErr
}

func buildSink() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}
	h := sha256.New()
	h.Write(sinkSource)
	h.Write([]byte(runtime.Version()))
	for _, f := range []string{gomod, filepath.Join(filepath.Dir(gomod), "go.sum")} {
		data, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		h.Write(data)
	}

	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "backapp", "smtptest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "smtpsink-"+hex.EncodeToString(h.Sum(nil))[:16])
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if _, err := os.Stat(bin); err == nil {
		now := time.Now()
		_ = os.Chtimes(bin, now, now) // in use: keep it from pruneOld
		return bin, nil
	}

	// Build beside the final name and rename, so test binaries of other packages
	// running at the same time never start a half-written file.
	tmp, err := os.CreateTemp(dir, "build-*")
	if err != nil {
		return "", err
	}
	_ = tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command("go", "build", "-o", tmp.Name(), "github.com/backapp/backapp/internal/testenv/smtptest/smtpsink")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	if err := os.Rename(tmp.Name(), bin); err != nil {
		return "", err
	}
	pruneOld(dir, bin)
	return bin, nil
}

// pruneOld removes sinks built for an older go.mod or Go version that no test has
// started for a week.
func pruneOld(dir, keep string) {
	old, _ := filepath.Glob(filepath.Join(dir, "smtpsink-*"))
	for _, f := range old {
		if fi, err := os.Stat(f); err == nil && f != keep && time.Since(fi.ModTime()) > 7*24*time.Hour {
			_ = os.Remove(f)
		}
	}
}

// writeCert writes a fresh self-signed certificate for 127.0.0.1, ::1 and localhost
// into dir and returns the file names and a pool that trusts it.
func writeCert(dir string) (certFile, keyFile string, pool *x509.CertPool, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtpsink"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", "", nil, err
	}
	certFile = filepath.Join(dir, "cert.pem")
	keyFile = filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", nil, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", "", nil, err
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool, nil
}

// firstLine sends the first line written to it (smtpsink's address) on c and
// discards the rest.
type firstLine struct {
	buf  []byte
	c    chan<- string
	sent bool
}

func (w *firstLine) Write(p []byte) (int, error) {
	if !w.sent {
		w.buf = append(w.buf, p...)
		if i := bytes.IndexByte(w.buf, '\n'); i >= 0 {
			w.c <- strings.TrimSpace(string(w.buf[:i]))
			w.sent = true
			w.buf = nil
		}
	}
	return len(p), nil
}

// lockedBuffer collects a child's stderr while tests may read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}
