package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strings"

	gomail "github.com/wneessen/go-mail"
)

// The kinds of SMTP failure. Errors from SMTP.Send wrap one of them (test with
// errors.Is) together with the underlying cause.
var (
	ErrConnect  = errors.New("cannot connect")
	ErrTimeout  = errors.New("timed out")
	ErrTLS      = errors.New("TLS failure")
	ErrAuth     = errors.New("authentication failed")
	ErrRejected = errors.New("message rejected")
)

// authPreference is the order in which SMTP AUTH mechanisms are tried. PLAIN and
// LOGIN come first because every server that offers AUTH offers one of them and the
// connection is encrypted anyway.
var authPreference = []gomail.SMTPAuthType{
	gomail.SMTPAuthPlain, gomail.SMTPAuthLogin,
	gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthCramMD5,
}

// SMTP sends each message over a new connection to an SMTP server. It is safe for
// concurrent use.
type SMTP struct {
	cfg    Config
	domain string // of the From address, for Message-IDs
}

// NewSMTP checks cfg (see Config.Normalize) and returns a sender for it. It does not
// connect; a wrong host or password shows on the first Send.
func NewSMTP(cfg Config) (*SMTP, error) {
	cfg, err := cfg.Normalize()
	if err != nil {
		return nil, err
	}
	from, _ := mail.ParseAddress(cfg.From) // checked by Normalize
	_, domain, _ := strings.Cut(from.Address, "@")
	if cfg.TLSConfig == nil {
		cfg.TLSConfig = &tls.Config{}
	}
	cfg.TLSConfig = cfg.TLSConfig.Clone()
	if cfg.TLSConfig.ServerName == "" {
		cfg.TLSConfig.ServerName = cfg.Host
	}
	if cfg.TLSConfig.MinVersion == 0 {
		cfg.TLSConfig.MinVersion = tls.VersionTLS12
	}
	return &SMTP{cfg: cfg, domain: domain}, nil
}

// Send delivers m to the SMTP server. It gives up when ctx ends or when connecting or
// any SMTP command takes longer than Config.Timeout. Errors name the server's
// host:port and wrap one of ErrConnect, ErrTimeout, ErrTLS, ErrAuth or ErrRejected
// (or ctx's error); they never contain the password.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	msg, err := s.message(m)
	if err != nil {
		return fmt.Errorf("send mail: %w", err)
	}

	// go-mail bounds the dial by ctx but later commands only by its timeout; closing
	// the connection when ctx ends makes a cancelled request stop at once.
	var stops []func() bool
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	dial := func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(dialCtx, network, addr)
		if err != nil {
			return nil, err
		}
		raw := conn
		if s.cfg.TLS == TLSImplicit {
			tc := tls.Client(conn, s.cfg.TLSConfig)
			if err := tc.HandshakeContext(dialCtx); err != nil {
				_ = conn.Close()
				return nil, err
			}
			conn = tc
		}
		stops = append(stops, context.AfterFunc(ctx, func() { _ = raw.Close() }))
		return conn, nil
	}

	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.cfg.Timeout),
		gomail.WithTLSConfig(s.cfg.TLSConfig),
		gomail.WithDialContextFunc(dial),
	}
	switch s.cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL()) // the handshake itself is done in dial
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.Username != "" {
		prefs := authPreference
		if s.cfg.TLS == TLSNone {
			// Normalize allowed this only to a loopback host.
			prefs = []gomail.SMTPAuthType{gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc}
		}
		opts = append(opts,
			gomail.WithOpportunisticSMTPAuth(prefs...),
			gomail.WithUsername(s.cfg.Username),
			gomail.WithPassword(s.cfg.Password))
	}
	client, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", s.cfg.Addr(), err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return s.explain(ctx, err)
	}
	return nil
}

// message builds the go-mail message for m.
func (s *SMTP) message(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return nil, fmt.Errorf("from address %q: %w", s.cfg.From, err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("recipient %q: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	var id [16]byte
	_, _ = rand.Read(id[:])
	msg.SetMessageIDWithValue(hex.EncodeToString(id[:]) + "@" + s.domain)
	msg.SetUserAgent("backapp")
	// Tell auto-responders (vacation replies) not to answer (RFC 3834).
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// explain turns a go-mail error into one that names the server and the kind of
// failure.
func (s *SMTP) explain(ctx context.Context, err error) error {
	addr := s.cfg.Addr()
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("smtp %s: %w", addr, ctxErr)
	}
	cause := err
	for _, prefix := range []string{"dial failed: ", "send failed: "} {
		if u := errors.Unwrap(cause); u != nil && strings.HasPrefix(cause.Error(), prefix) {
			cause = u
		}
	}

	var (
		netErr   net.Error
		opErr    *net.OpError
		sendErr  *gomail.SendError
		certErr  *tls.CertificateVerificationError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
		hostErr  x509.HostnameError
		authErr  x509.UnknownAuthorityError
	)
	msg := cause.Error()
	switch {
	case errors.As(cause, &netErr) && netErr.Timeout():
		return fmt.Errorf("smtp %s: %w after %v: %w", addr, ErrTimeout, s.cfg.Timeout, cause)
	case errors.As(cause, &opErr) && opErr.Op == "dial":
		return fmt.Errorf("smtp %s: %w: %w", addr, ErrConnect, cause)
	case errors.As(cause, &certErr), errors.As(cause, &recErr), errors.As(cause, &alertErr),
		errors.As(cause, &hostErr), errors.As(cause, &authErr),
		strings.Contains(msg, "STARTTLS"), strings.HasPrefix(msg, "tls: "):
		return fmt.Errorf("smtp %s: %w (tls mode %q): %w", addr, ErrTLS, s.cfg.TLS, cause)
	case errors.Is(cause, gomail.ErrNoSupportedAuthDiscovered), strings.Contains(msg, "SMTP AUTH"):
		return fmt.Errorf("smtp %s: %w for user %q: %w", addr, ErrAuth, s.cfg.Username, cause)
	case errors.As(cause, &sendErr):
		return fmt.Errorf("smtp %s: %w: %w", addr, ErrRejected, cause)
	}
	return fmt.Errorf("smtp %s: %w", addr, cause)
}
