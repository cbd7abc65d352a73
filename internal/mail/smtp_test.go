package mail_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/mail"
	"github.com/backapp/backapp/internal/testenv/smtptest"
)

const (
	from = "backapp <noreply@backup.example.com>"
	to   = "ada@example.com"
	pass = "correct horse battery staple"
)

// longLink is longer than a quoted-printable line, so delivery only round-trips it
// if the soft line breaks are decoded.
const longLink = "https://backup.example.com/reset?token=Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2FsZG9mcmVkcGx1Z2g"

// config points at srv with the given TLS mode, with its credentials if it has any.
func config(srv *smtptest.Server, mode mail.TLSMode) mail.Config {
	c := mail.Config{
		Host: srv.Host(), Port: srv.Port(), From: from, TLS: mode,
		Username: srv.Username(), Password: srv.Password(),
		Timeout: 10 * time.Second,
	}
	if srv.CertPool() != nil {
		c.TLSConfig = &tls.Config{RootCAs: srv.CertPool()}
	}
	return c
}

func send(t *testing.T, cfg mail.Config, m mail.Message) error {
	t.Helper()
	s, err := mail.NewSMTP(cfg)
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return s.Send(ctx, m)
}

func TestSendDelivers(t *testing.T) {
	tests := []struct {
		name string
		opts []smtptest.Option
		mode mail.TLSMode
	}{
		{"plain, no auth", nil, mail.TLSNone},
		{"plain, auth to loopback", []smtptest.Option{smtptest.WithAuth("backapp", pass)}, mail.TLSNone},
		{"starttls, auth", []smtptest.Option{smtptest.WithAuth("backapp", pass), smtptest.WithTLS(smtptest.TLSStartTLS)}, mail.TLSStartTLS},
		{"implicit tls, auth", []smtptest.Option{smtptest.WithAuth("backapp", pass), smtptest.WithTLS(smtptest.TLSImplicit)}, mail.TLSImplicit},
		{"starttls, no auth", []smtptest.Option{smtptest.WithTLS(smtptest.TLSStartTLS)}, mail.TLSStartTLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.Start(t, tt.opts...)
			if err := send(t, config(srv, tt.mode), mail.PasswordReset(to, "Ada", longLink, 30*time.Minute)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.WaitForMessage(t, to, 10*time.Second)

			if got.EnvelopeFrom != "noreply@backup.example.com" {
				t.Errorf("envelope from = %q, want noreply@backup.example.com", got.EnvelopeFrom)
			}
			if got.AuthUser != srv.Username() {
				t.Errorf("authenticated as %q, want %q", got.AuthUser, srv.Username())
			}
			if got.From != `"backapp" <noreply@backup.example.com>` {
				t.Errorf("From = %q", got.From)
			}
			if got.To != "<"+to+">" {
				t.Errorf("To = %q, want <%s>", got.To, to)
			}
			if got.Subject != "Reset your backapp password" {
				t.Errorf("Subject = %q", got.Subject)
			}
			if h := got.Header.Get("Auto-Submitted"); h != "auto-generated" {
				t.Errorf("Auto-Submitted = %q, want auto-generated", h)
			}
			if id := got.Header.Get("Message-Id"); !strings.HasSuffix(id, "@backup.example.com>") {
				t.Errorf("Message-Id = %q, want one in the From domain", id)
			}
			want := mail.PasswordReset(to, "Ada", longLink, 30*time.Minute).Text
			if got.Text != want {
				t.Errorf("received text differs from the rendered one\n--- got\n%s\n--- want\n%s", got.Text, want)
			}
			if !strings.Contains(got.Text, "\n"+longLink+"\n") {
				t.Errorf("the reset link is not on a line of its own in the received text:\n%s", got.Text)
			}
			if strings.Contains(string(got.Raw), pass) {
				t.Error("the raw message contains the SMTP password")
			}
		})
	}
}

func TestSendHTMLAlternative(t *testing.T) {
	srv := smtptest.Start(t)
	m := mail.Message{To: to, Subject: "Grüße", Text: "plain ü", HTML: "<p>html ü</p>"}
	if err := send(t, config(srv, mail.TLSNone), m); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitForMessage(t, to, 10*time.Second)
	if got.Subject != m.Subject || got.Text != m.Text || got.HTML != m.HTML {
		t.Errorf("received subject, text, html = %q, %q, %q; want %q, %q, %q", got.Subject, got.Text, got.HTML, m.Subject, m.Text, m.HTML)
	}
}

// checkErr fails unless err wraps kind and its message contains every part and not
// the password.
func checkErr(t *testing.T, err, kind error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %v", kind)
	}
	t.Logf("err: %v", err)
	if !errors.Is(err, kind) {
		t.Errorf("err = %v, want it to wrap %v", err, kind)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("err = %q, want it to contain %q", err, p)
		}
	}
	if strings.Contains(err.Error(), pass) {
		t.Errorf("err = %q contains the password", err)
	}
}

func TestSendErrors(t *testing.T) {
	msg := mail.PasswordReset(to, "", longLink, time.Hour)

	t.Run("wrong password", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.WithAuth("backapp", "another password"))
		cfg := config(srv, mail.TLSNone)
		cfg.Password = pass
		checkErr(t, send(t, cfg, msg), mail.ErrAuth, srv.Addr(), `authentication failed for user "backapp"`, "535")
	})
	t.Run("server needs auth, none configured", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.WithAuth("backapp", pass))
		cfg := config(srv, mail.TLSNone)
		cfg.Username, cfg.Password = "", ""
		checkErr(t, send(t, cfg, msg), mail.ErrRejected, srv.Addr(), "authenticate")
	})
	t.Run("server does not offer auth", func(t *testing.T) {
		srv := smtptest.Start(t)
		cfg := config(srv, mail.TLSNone)
		cfg.Username, cfg.Password = "backapp", pass
		checkErr(t, send(t, cfg, msg), mail.ErrAuth, srv.Addr(), "does not support SMTP AUTH")
	})
	t.Run("starttls not offered", func(t *testing.T) {
		srv := smtptest.Start(t)
		checkErr(t, send(t, config(srv, mail.TLSStartTLS), msg), mail.ErrTLS, srv.Addr(), "TLS failure", "STARTTLS")
	})
	t.Run("starttls untrusted certificate", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.WithAuth("backapp", pass), smtptest.WithTLS(smtptest.TLSStartTLS))
		cfg := config(srv, mail.TLSStartTLS)
		cfg.TLSConfig = nil // system roots do not know the test CA
		checkErr(t, send(t, cfg, msg), mail.ErrTLS, srv.Addr(), "certificate")
	})
	t.Run("implicit tls to a plain server", func(t *testing.T) {
		srv := smtptest.Start(t)
		checkErr(t, send(t, config(srv, mail.TLSImplicit), msg), mail.ErrTLS, srv.Addr(), "TLS failure")
	})
	t.Run("connection refused", func(t *testing.T) {
		addr := closedPort(t)
		host, port, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(port)
		cfg := mail.Config{Host: host, Port: p, From: from, TLS: mail.TLSNone, Timeout: 5 * time.Second}
		checkErr(t, send(t, cfg, msg), mail.ErrConnect, addr, "connection refused")
	})
	t.Run("invalid message", func(t *testing.T) {
		srv := smtptest.Start(t)
		bad := msg
		bad.Subject = "x\nBcc: eve@example.com"
		if err := send(t, config(srv, mail.TLSNone), bad); err == nil || !strings.Contains(err.Error(), "line break") {
			t.Errorf("err = %v, want the line break named", err)
		}
	})
}

// closedPort returns a loopback address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// silentServer accepts connections and never says a word, like a firewall that
// swallows packets after the handshake. It returns its address.
func silentServer(t *testing.T) (host string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	a := ln.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

func TestSendStopsWhenContextEnds(t *testing.T) {
	host, port := silentServer(t)
	// The configured timeout is long: only the context can end this Send early.
	s, err := mail.NewSMTP(mail.Config{Host: host, Port: port, From: from, TLS: mail.TLSNone, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Send(ctx, mail.PasswordReset(to, "", longLink, time.Hour))
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Send returned after %v, want soon after the 200ms deadline", took)
	}
	checkErr(t, err, context.DeadlineExceeded, net.JoinHostPort(host, strconv.Itoa(port)))
}

func TestSendTimeout(t *testing.T) {
	host, port := silentServer(t)
	s, err := mail.NewSMTP(mail.Config{Host: host, Port: port, From: from, TLS: mail.TLSNone, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Send(context.Background(), mail.PasswordReset(to, "", longLink, time.Hour))
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Send returned after %v, want soon after the 200ms timeout", took)
	}
	checkErr(t, err, mail.ErrTimeout, net.JoinHostPort(host, strconv.Itoa(port)), "timed out after 200ms")
}
