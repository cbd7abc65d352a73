package server

import (
	"context"
	"fmt"
	"time"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/mail"
)

// resetMailer sends the password-reset e-mail through a mail.Sender.
type resetMailer struct{ s mail.Sender }

func (m resetMailer) SendPasswordReset(ctx context.Context, to, name, link string, ttl time.Duration) error {
	return m.s.Send(ctx, mail.PasswordReset(to, name, link, ttl))
}

// newMailer returns the reset mailer for the configured SMTP server, or nil (reset by
// e-mail unavailable, and the reset page says so) when no SMTP host is set.
func newMailer(cfg *config.Config) (auth.ResetMailer, error) {
	if cfg.SMTPHost == "" {
		return nil, nil
	}
	s, err := newMailSender(cfg)
	if err != nil {
		return nil, err
	}
	return resetMailer{s}, nil
}

// newMailSender returns the sender of the configured SMTP server (mail.Disabled
// when no SMTP host is set: notifications by e-mail then fail, saying why).
func newMailSender(cfg *config.Config) (mail.Sender, error) {
	s, err := mail.New(mail.Config{
		Host:     cfg.SMTPHost,
		Port:     cfg.SMTPPort,
		Username: cfg.SMTPUsername,
		Password: cfg.SMTPPassword,
		From:     cfg.SMTPFrom,
		TLS:      mail.TLSMode(cfg.SMTPTLS),
	})
	if err != nil {
		return nil, fmt.Errorf("--smtp-*: %w", err)
	}
	return s, nil
}
