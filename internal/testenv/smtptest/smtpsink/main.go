// Command smtpsink is a tiny SMTP server for tests: it accepts every message on
// 127.0.0.1 and writes it, with its envelope, as a file into a directory. It is
// started by package smtptest; it is not meant for anything else.
//
// It prints its listening address on the first line of stdout, and exits when stdin
// is closed so that it never outlives the test process that started it.
//
// Each message is written to DIR/NNNNNN.eml (via a temporary file and a rename, so a
// reader never sees half a message) as an envelope block, a blank line, and the raw
// RFC 5322 data exactly as received:
//
//	Envelope-From: sender@example.com
//	Envelope-To: rcpt@example.com
//	Auth-User: user
//
//	<raw message>
package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("smtpsink: ")
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	dir := flag.String("dir", "", "directory to write received messages to (required)")
	user := flag.String("user", "", "require AUTH PLAIN with this user name; the password is read from $SMTPSINK_PASSWORD")
	tlsMode := flag.String("tls", "none", "TLS mode: none, starttls (offer STARTTLS) or implicit (TLS from the first byte)")
	certFile := flag.String("cert", "", "PEM certificate file for -tls starttls|implicit")
	keyFile := flag.String("key", "", "PEM key file for -tls starttls|implicit")
	flag.Parse()
	if *dir == "" {
		return errors.New("-dir is required")
	}

	b := &backend{dir: *dir, user: *user, pass: os.Getenv("SMTPSINK_PASSWORD")}
	if b.user != "" && b.pass == "" {
		return errors.New("-user needs $SMTPSINK_PASSWORD")
	}

	s := smtp.NewServer(b)
	s.Domain = "smtpsink.localhost"
	s.AllowInsecureAuth = true // tests exercise AUTH over plain loopback connections too
	s.ReadTimeout = time.Minute
	s.WriteTimeout = time.Minute
	s.MaxMessageBytes = 10 << 20
	s.ErrorLog = log.Default()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	switch *tlsMode {
	case "none":
	case "starttls", "implicit":
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fmt.Errorf("load TLS key pair: %w", err)
		}
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if *tlsMode == "implicit" {
			ln = tls.NewListener(ln, s.TLSConfig)
		}
	default:
		return fmt.Errorf("unknown -tls mode %q (want none, starttls or implicit)", *tlsMode)
	}

	fmt.Println(ln.Addr().String())

	// The parent holds our stdin; when it exits (even by a crash) stdin reaches EOF.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = s.Close()
		os.Exit(0)
	}()

	if err := s.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
		return err
	}
	return nil
}

type backend struct {
	dir        string
	user, pass string

	mu   sync.Mutex
	next int
}

func (b *backend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &session{b: b}, nil
}

// save writes one message atomically into the directory.
func (b *backend) save(from string, to []string, authUser string, data []byte) error {
	b.mu.Lock()
	b.next++
	n := b.next
	b.mu.Unlock()

	var buf bytes.Buffer
	fmt.Fprintf(&buf, "Envelope-From: %s\n", from)
	for _, rcpt := range to {
		fmt.Fprintf(&buf, "Envelope-To: %s\n", rcpt)
	}
	if authUser != "" {
		fmt.Fprintf(&buf, "Auth-User: %s\n", authUser)
	}
	buf.WriteString("\n")
	buf.Write(data)

	name := filepath.Join(b.dir, fmt.Sprintf("%06d.eml", n))
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

type session struct {
	b        *backend
	authUser string
	from     string
	to       []string
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) AuthMechanisms() []string {
	if s.b.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	if s.b.user == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return smtp.ErrAuthFailed
		}
		if username != s.b.user || password != s.b.pass {
			return smtp.ErrAuthFailed
		}
		s.authUser = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.user != "" && s.authUser == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := s.b.save(s.from, s.to, s.authUser, data); err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "cannot store message: " + err.Error()}
	}
	return nil
}

func (s *session) Reset() {
	s.from = ""
	s.to = nil
}

func (s *session) Logout() error { return nil }
