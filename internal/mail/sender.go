package mail

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// Message is one e-mail to one recipient.
type Message struct {
	To      string // the recipient's address, without a display name
	Subject string
	Text    string // the plain-text body; always sent
	HTML    string // an optional HTML alternative to Text
}

// Validate reports what is wrong with m before anything is sent.
func (m Message) Validate() error {
	a, err := mail.ParseAddress(m.To)
	if err != nil || a.Name != "" || a.Address != m.To {
		return fmt.Errorf("recipient %q is not a plain e-mail address", m.To)
	}
	if m.Subject == "" {
		return errors.New("subject is empty")
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return errors.New("subject contains a line break")
	}
	if m.Text == "" {
		return errors.New("text body is empty")
	}
	return nil
}

// Sender sends e-mail. Send returns once the SMTP server has accepted the message or
// with the reason it did not; it respects ctx's deadline and cancellation.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrNotConfigured is returned by Disabled.Send.
var ErrNotConfigured = errors.New("e-mail is not configured (set --smtp-host)")

// Disabled is the Sender of a server without SMTP settings: every Send fails with
// ErrNotConfigured, so a feature that needs mail can tell the user why it is off.
type Disabled struct{}

// Send returns ErrNotConfigured.
func (Disabled) Send(context.Context, Message) error { return ErrNotConfigured }

// New returns Disabled when cfg has no Host, and an SMTP sender otherwise. Its errors
// are those of NewSMTP.
func New(cfg Config) (Sender, error) {
	if strings.TrimSpace(cfg.Host) == "" {
		return Disabled{}, nil
	}
	s, err := NewSMTP(cfg)
	if err != nil {
		return nil, err
	}
	return s, nil
}
