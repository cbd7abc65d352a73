package mail

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigNormalize(t *testing.T) {
	base := Config{Host: "smtp.example.com", From: "backapp <backapp@example.com>"}
	with := func(f func(*Config)) Config {
		c := base
		f(&c)
		return c
	}
	tests := []struct {
		name     string
		cfg      Config
		wantErr  string // "" for success
		wantPort int
		wantTLS  TLSMode
	}{
		{name: "defaults", cfg: base, wantPort: 587, wantTLS: TLSStartTLS},
		{name: "implicit tls port", cfg: with(func(c *Config) { c.TLS = TLSImplicit }), wantPort: 465, wantTLS: TLSImplicit},
		{name: "none port", cfg: with(func(c *Config) { c.TLS = TLSNone }), wantPort: 25, wantTLS: TLSNone},
		{name: "explicit port kept", cfg: with(func(c *Config) { c.Port = 2525 }), wantPort: 2525, wantTLS: TLSStartTLS},
		{name: "auth over starttls", cfg: with(func(c *Config) { c.Username, c.Password = "u", "p" }), wantPort: 587, wantTLS: TLSStartTLS},
		{name: "auth over none to 127.0.0.1", cfg: with(func(c *Config) { c.Host, c.TLS, c.Username = "127.0.0.1", TLSNone, "u" }), wantPort: 25, wantTLS: TLSNone},
		{name: "auth over none to ::1", cfg: with(func(c *Config) { c.Host, c.TLS, c.Username = "::1", TLSNone, "u" }), wantPort: 25, wantTLS: TLSNone},
		{name: "auth over none to localhost", cfg: with(func(c *Config) { c.Host, c.TLS, c.Username = "localhost", TLSNone, "u" }), wantPort: 25, wantTLS: TLSNone},

		{name: "no host", cfg: with(func(c *Config) { c.Host = " " }), wantErr: "smtp host is empty"},
		{name: "host with port", cfg: with(func(c *Config) { c.Host = "smtp.example.com:25" }), wantErr: "without port"},
		{name: "unknown tls mode", cfg: with(func(c *Config) { c.TLS = "ssl" }), wantErr: `smtp tls mode "ssl"`},
		{name: "port out of range", cfg: with(func(c *Config) { c.Port = 70000 }), wantErr: "smtp port 70000"},
		{name: "no from", cfg: with(func(c *Config) { c.From = "" }), wantErr: "smtp from address is empty"},
		{name: "bad from", cfg: with(func(c *Config) { c.From = "not an address" }), wantErr: `smtp from address "not an address"`},
		{name: "password without user", cfg: with(func(c *Config) { c.Password = "p" }), wantErr: "smtp username is empty"},
		{name: "auth over none to remote host", cfg: with(func(c *Config) { c.TLS, c.Username, c.Password = TLSNone, "u", "hunter2" }), wantErr: "plain text to smtp.example.com"},
		{name: "auth over none to a name resolving anywhere", cfg: with(func(c *Config) { c.Host, c.TLS, c.Username = "localhost.evil.example", TLSNone, "u" }), wantErr: "use starttls or tls"},
		{name: "negative timeout", cfg: with(func(c *Config) { c.Timeout = -time.Second }), wantErr: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.Normalize()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q contains the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			if got.Port != tt.wantPort || got.TLS != tt.wantTLS || got.Timeout != DefaultTimeout {
				t.Errorf("port, tls, timeout = %d, %q, %v; want %d, %q, %v", got.Port, got.TLS, got.Timeout, tt.wantPort, tt.wantTLS, DefaultTimeout)
			}
		})
	}
}

func TestMessageValidate(t *testing.T) {
	ok := Message{To: "a@example.com", Subject: "s", Text: "t"}
	tests := []struct {
		name    string
		change  func(*Message)
		wantErr string
	}{
		{"valid", func(*Message) {}, ""},
		{"display name", func(m *Message) { m.To = "A <a@example.com>" }, "not a plain e-mail address"},
		{"two recipients", func(m *Message) { m.To = "a@example.com, b@example.com" }, "not a plain e-mail address"},
		{"no recipient", func(m *Message) { m.To = "" }, "not a plain e-mail address"},
		{"header injection", func(m *Message) { m.Subject = "hi\r\nBcc: x@example.com" }, "line break"},
		{"no subject", func(m *Message) { m.Subject = "" }, "subject is empty"},
		{"no text", func(m *Message) { m.Text = "" }, "text body is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.change(&m)
			err := m.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestDisabled(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatalf("New without host: %v", err)
	}
	if _, ok := s.(Disabled); !ok {
		t.Fatalf("New without host = %T, want Disabled", s)
	}
	err = s.Send(context.Background(), PasswordReset("a@example.com", "", "https://x/", time.Hour))
	if !errors.Is(err, ErrNotConfigured) || err.Error() != "e-mail is not configured (set --smtp-host)" {
		t.Errorf("Send = %v, want %v", err, ErrNotConfigured)
	}
}

func TestNewChecksConfig(t *testing.T) {
	if _, err := New(Config{Host: "smtp.example.com"}); err == nil || !strings.Contains(err.Error(), "from address") {
		t.Errorf("New with host but no From: err = %v, want the from address named", err)
	}
	s, err := New(Config{Host: "smtp.example.com", From: "b@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*SMTP); !ok {
		t.Errorf("New with host = %T, want *SMTP", s)
	}
}
