package config

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func load(t *testing.T, args []string, env ...string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	c := Register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := ApplyEnv(fs, env); err != nil {
		return nil, err
	}
	return c, c.Validate()
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":8080" || c.DataDir != "./data" || c.DatabaseURL != "" {
		t.Errorf("defaults: listen %q data-dir %q database %q", c.Listen, c.DataDir, c.DatabaseURL)
	}
	if c.BaseURL != "http://localhost:8080" {
		t.Errorf("BaseURL = %q, want http://localhost:8080", c.BaseURL)
	}
	if c.Secure() {
		t.Error("Secure() = true without TLS")
	}
	if c.RetentionEvery != time.Hour {
		t.Errorf("RetentionEvery = %s, want 1h", c.RetentionEvery)
	}
	if c.NotifyRetention != 30*24*time.Hour {
		t.Errorf("NotifyRetention = %s, want 720h", c.NotifyRetention)
	}
}

func TestEnvAndFlagPrecedence(t *testing.T) {
	c, err := load(t, []string{"--listen", "127.0.0.1:9000"},
		"BACKAPP_LISTEN=:7000", "BACKAPP_DATA_DIR=/tmp/x", "DATABASE_URL=postgres://u@h/db", "BACKAPP_LOG_FORMAT=json")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9000" {
		t.Errorf("Listen = %q; the flag must win over BACKAPP_LISTEN", c.Listen)
	}
	if c.DataDir != "/tmp/x" || c.DatabaseURL != "postgres://u@h/db" || c.LogFormat != "json" {
		t.Errorf("env not applied: %+v", c)
	}
	if c.BaseURL != "http://127.0.0.1:9000" {
		t.Errorf("BaseURL = %q", c.BaseURL)
	}
}

func TestInvalidSettingsNameTheSetting(t *testing.T) {
	cases := []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--listen", "8080"}, nil, "--listen"},
		{[]string{"--database-url", "mysql://x"}, nil, "--database-url"},
		{[]string{"--tls-cert", "/nonexistent"}, nil, "--tls-cert"},
		{[]string{"--log-level", "loud"}, nil, "--log-level"},
		{[]string{"--log-format", "xml"}, nil, "--log-format"},
		{[]string{"--smtp-tls", "maybe"}, nil, "--smtp-tls"},
		{[]string{"--smtp-host", "mail.example.com"}, nil, "--smtp-from"},
		{[]string{"--master-key", "short"}, nil, "--master-key"},
		{[]string{"--base-url", "example.com"}, nil, "--base-url"},
		{nil, []string{"BACKAPP_SMTP_PORT=abc"}, "BACKAPP_SMTP_PORT"},
		{nil, []string{"BACKAPP_LISTN=:1"}, "BACKAPP_LISTN"},
		{nil, []string{"BACKAPP_SESSION_IDLE=5s"}, "--session-idle"},
		{[]string{"--trusted-proxies", "10.0.0.0/99"}, nil, "--trusted-proxies"},
		{[]string{"--retention-every", "0s"}, nil, "--retention-every"},
		{nil, []string{"BACKAPP_RETENTION_EVERY=200ms"}, "--retention-every"},
		{nil, []string{"BACKAPP_RETENTION_EVERY=200h"}, "--retention-every"},
		{nil, []string{"BACKAPP_NOTIFY_RETENTION=30m"}, "--notify-retention"},
	}
	for _, c := range cases {
		_, err := load(t, c.args, c.env...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("args %v env %v: err = %v, want it to name %s", c.args, c.env, err, c.want)
		}
	}
}

func TestUnknownFlagRejected(t *testing.T) {
	if _, err := load(t, []string{"--lisen", ":1"}); err == nil {
		t.Error("unknown flag accepted")
	}
}
