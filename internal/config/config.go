// Package config holds the server's own settings (not backup configurations: those
// are package configs), read from command-line flags with BACKAPP_* environment
// equivalents, and checks them before anything starts. There are no globals: the
// loaded Config value is passed to whatever needs it.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/notify/webhook"
)

// Config is the server configuration.
type Config struct {
	Listen      string
	DataDir     string
	AgentsDir   string // agent binaries to serve (agentdist.Dir)
	DatabaseURL string
	BaseURL     string
	TLSCert     string
	TLSKey      string
	MasterKey   string // base64 of 32 bytes; generated into DataDir when empty

	SMTPHost     string
	SMTPPort     int
	SMTPUsername string
	SMTPPassword string
	SMTPFrom     string
	SMTPTLS      string // starttls | tls | none

	LogLevel  string // debug | info | warn | error
	LogFormat string // text | json

	MaxBodyBytes int64
	SessionIdle  time.Duration
	SessionMax   time.Duration
	// TrustedProxies (CIDRs) may set X-Forwarded-For: the client address used for
	// rate limits and the audit log.
	TrustedProxies string
	// RunStaleAfter is how long a running backup may go without a progress report
	// before the server fails it and aborts its uploads (the agent died).
	RunStaleAfter time.Duration
	// RetentionEvery is how often the replica that schedules runs a retention pass
	// (deleting expired backups).
	RetentionEvery time.Duration
	// MetricsToken is the bearer token GET /metrics requires; empty turns /metrics off.
	MetricsToken string
	// WebhookAllow lists hosts, addresses and networks (comma-separated) webhooks
	// may reach although they are loopback, private or link-local.
	WebhookAllow string
	// NotifyLease is how long an outbox worker holds a notification it is sending;
	// a server killed mid-delivery has its messages retried after it.
	NotifyLease time.Duration
	// NotifyRetention is how long delivered, given-up and dropped notifications and
	// their delivery attempts are kept before they are deleted.
	NotifyRetention time.Duration
}

// setting describes one flag and its environment variable.
type setting struct {
	flag, env, help string
}

// settings lists every flag with its environment variable, in the order of --help.
var settings = []setting{
	{"listen", "BACKAPP_LISTEN", "address to listen on, host:port"},
	{"data-dir", "BACKAPP_DATA_DIR", "directory for the SQLite database, the master key and local storage"},
	{"database-url", "DATABASE_URL", "postgres://… to use PostgreSQL; empty for SQLite in the data directory (also BACKAPP_DATABASE_URL)"},
	{"base-url", "BACKAPP_BASE_URL", "public URL of this server, used in e-mailed links and agent URLs (default derived from --listen)"},
	{"tls-cert", "BACKAPP_TLS_CERT", "PEM certificate file; with --tls-key, serve HTTPS directly"},
	{"tls-key", "BACKAPP_TLS_KEY", "PEM private key file"},
	{"agents-dir", "BACKAPP_AGENTS_DIR", "directory of the agent binaries the server offers for download (make agents); default: agents beside the server binary"},
	{"master-key", "BACKAPP_MASTER_KEY", "base64 of 32 random bytes that encrypt stored secrets; generated once into the data directory when empty"},
	{"smtp-host", "BACKAPP_SMTP_HOST", "SMTP server for e-mail (password reset, alerts); empty disables e-mail"},
	{"smtp-port", "BACKAPP_SMTP_PORT", "SMTP port"},
	{"smtp-username", "BACKAPP_SMTP_USERNAME", "SMTP user name"},
	{"smtp-password", "BACKAPP_SMTP_PASSWORD", "SMTP password (prefer the environment variable over the flag)"},
	{"smtp-from", "BACKAPP_SMTP_FROM", "sender address of e-mails"},
	{"smtp-tls", "BACKAPP_SMTP_TLS", "SMTP transport security: starttls, tls (implicit, port 465) or none (loopback only)"},
	{"log-level", "BACKAPP_LOG_LEVEL", "log level: debug, info, warn or error"},
	{"log-format", "BACKAPP_LOG_FORMAT", "log format: text or json"},
	{"max-body", "BACKAPP_MAX_BODY", "largest accepted request body in bytes"},
	{"session-idle", "BACKAPP_SESSION_IDLE", "sign a session out after this long without use"},
	{"session-max", "BACKAPP_SESSION_MAX", "absolute lifetime of a session"},
	{"run-stale-after", "BACKAPP_RUN_STALE_AFTER", "fail a running backup whose agent has not reported for this long, and abort its uploads"},
	{"retention-every", "BACKAPP_RETENTION_EVERY", "how often expired backups are deleted (a retention pass over every configuration with a policy)"},
	{"metrics-token", "BACKAPP_METRICS_TOKEN", "bearer token Prometheus presents to scrape GET /metrics; empty turns /metrics off"},
	{"webhook-allow", "BACKAPP_WEBHOOK_ALLOW", "comma-separated host names, IP addresses or CIDR networks that notification webhooks may reach although they are loopback, private or link-local (refused by default)"},
	{"notify-lease", "BACKAPP_NOTIFY_LEASE", "how long a notification being sent stays claimed by its server; after a crash its messages are retried this long after (40s to 1h)"},
	{"notify-retention", "BACKAPP_NOTIFY_RETENTION", "how long delivered, given-up and dropped notifications and their delivery attempts are kept before they are deleted (at least 1h)"},
	{"trusted-proxies", "BACKAPP_TRUSTED_PROXIES", "comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For is believed"},
}

// aliases are other accepted environment names.
var aliases = map[string]string{"BACKAPP_DATABASE_URL": "database-url"}

func help(name string) string {
	for _, s := range settings {
		if s.flag == name {
			return s.help + " [$" + s.env + "]"
		}
	}
	panic("config: no setting " + name)
}

// Register defines the server's flags on fs and returns the Config they fill.
func Register(fs *pflag.FlagSet) *Config {
	c := &Config{}
	fs.StringVar(&c.Listen, "listen", ":8080", help("listen"))
	fs.StringVar(&c.DataDir, "data-dir", "./data", help("data-dir"))
	fs.StringVar(&c.DatabaseURL, "database-url", "", help("database-url"))
	fs.StringVar(&c.BaseURL, "base-url", "", help("base-url"))
	fs.StringVar(&c.TLSCert, "tls-cert", "", help("tls-cert"))
	fs.StringVar(&c.TLSKey, "tls-key", "", help("tls-key"))
	fs.StringVar(&c.AgentsDir, "agents-dir", "", help("agents-dir"))
	fs.StringVar(&c.MasterKey, "master-key", "", help("master-key"))
	fs.StringVar(&c.SMTPHost, "smtp-host", "", help("smtp-host"))
	fs.IntVar(&c.SMTPPort, "smtp-port", 587, help("smtp-port"))
	fs.StringVar(&c.SMTPUsername, "smtp-username", "", help("smtp-username"))
	fs.StringVar(&c.SMTPPassword, "smtp-password", "", help("smtp-password"))
	fs.StringVar(&c.SMTPFrom, "smtp-from", "", help("smtp-from"))
	fs.StringVar(&c.SMTPTLS, "smtp-tls", "starttls", help("smtp-tls"))
	fs.StringVar(&c.LogLevel, "log-level", "info", help("log-level"))
	fs.StringVar(&c.LogFormat, "log-format", "text", help("log-format"))
	fs.Int64Var(&c.MaxBodyBytes, "max-body", 1<<20, help("max-body"))
	fs.DurationVar(&c.SessionIdle, "session-idle", 24*time.Hour, help("session-idle"))
	fs.DurationVar(&c.SessionMax, "session-max", 7*24*time.Hour, help("session-max"))
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", "", help("trusted-proxies"))
	fs.DurationVar(&c.RunStaleAfter, "run-stale-after", 10*time.Minute, help("run-stale-after"))
	fs.DurationVar(&c.RetentionEvery, "retention-every", time.Hour, help("retention-every"))
	fs.StringVar(&c.MetricsToken, "metrics-token", "", help("metrics-token"))
	fs.StringVar(&c.WebhookAllow, "webhook-allow", "", help("webhook-allow"))
	fs.DurationVar(&c.NotifyLease, "notify-lease", 2*time.Minute, help("notify-lease"))
	fs.DurationVar(&c.NotifyRetention, "notify-retention", 30*24*time.Hour, help("notify-retention"))
	return c
}

// ApplyEnv sets every flag not given on the command line from its environment
// variable, and rejects BACKAPP_* variables that name no setting (a typo would
// otherwise be silently ignored).
func ApplyEnv(fs *pflag.FlagSet, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	known := map[string]string{}
	for _, s := range settings {
		known[s.env] = s.flag
	}
	for a, f := range aliases {
		known[a] = f
	}
	var unknown []string
	for k := range env {
		if strings.HasPrefix(k, "BACKAPP_") && known[k] == "" && !agentOrTestVar(k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("unknown environment variable %s: see `backapp serve --help` for the settings", strings.Join(unknown, ", "))
	}
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names) // DATABASE_URL wins over BACKAPP_DATABASE_URL: it sorts after it
	for _, k := range names {
		v, ok := env[k]
		f := known[k]
		if !ok || fs.Changed(f) {
			continue
		}
		if err := fs.Set(f, v); err != nil {
			return fmt.Errorf("environment variable %s=%q: %w", k, v, err)
		}
	}
	return nil
}

// agentOrTestVar reports variables that belong to other programs of the project.
func agentOrTestVar(k string) bool {
	return strings.HasPrefix(k, "BACKAPP_AGENT_") || strings.HasPrefix(k, "BACKAPP_TEST_")
}

// Validate checks every setting and names the one that is wrong. It fills derived
// defaults (BaseURL).
func (c *Config) Validate() error {
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		bad("listen", "%q is not host:port (example :8080 or 127.0.0.1:8080)", c.Listen)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("listen", "port %q is not a number from 0 to 65535", port)
	}
	if c.DataDir == "" {
		bad("data-dir", "must not be empty")
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("database-url", "must be a postgres:// or postgresql:// URL (leave it empty for SQLite)")
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls-cert", "--tls-cert and --tls-key must be given together")
	}
	for flag, f := range map[string]string{"tls-cert": c.TLSCert, "tls-key": c.TLSKey} {
		if f != "" {
			if _, err := os.Stat(f); err != nil {
				bad(flag, "cannot read %s: %v", f, errors.Unwrap(err))
			}
		}
	}
	if c.BaseURL == "" {
		scheme := "http"
		if c.TLSCert != "" {
			scheme = "https"
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		c.BaseURL = scheme + "://" + net.JoinHostPort(host, port)
	} else if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("base-url", "%q must be an absolute http:// or https:// URL", c.BaseURL)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.MasterKey != "" {
		if k, err := base64.StdEncoding.DecodeString(c.MasterKey); err != nil || len(k) != 32 {
			bad("master-key", "must be the base64 encoding of exactly 32 bytes (make one with `openssl rand -base64 32`)")
		}
	}
	if c.SMTPPort < 1 || c.SMTPPort > 65535 {
		bad("smtp-port", "%d is not a port number", c.SMTPPort)
	}
	switch c.SMTPTLS {
	case "starttls", "tls", "none":
	default:
		bad("smtp-tls", "%q is not one of starttls, tls, none", c.SMTPTLS)
	}
	if c.SMTPHost != "" && c.SMTPFrom == "" {
		bad("smtp-from", "is required when --smtp-host is set")
	}
	if _, err := c.Level(); err != nil {
		bad("log-level", "%v", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log-format", "%q is not text or json", c.LogFormat)
	}
	if c.MaxBodyBytes < 1024 {
		bad("max-body", "%d is too small; at least 1024 bytes", c.MaxBodyBytes)
	}
	if c.SessionIdle < time.Minute {
		bad("session-idle", "%s is too short; at least 1m", c.SessionIdle)
	}
	if c.SessionMax < c.SessionIdle {
		bad("session-max", "%s must not be shorter than --session-idle (%s)", c.SessionMax, c.SessionIdle)
	}
	if c.RunStaleAfter < 5*time.Second || c.RunStaleAfter > 7*24*time.Hour {
		bad("run-stale-after", "%s is outside 5s to 168h; agents report progress every few seconds", c.RunStaleAfter)
	}
	if c.RetentionEvery < time.Second || c.RetentionEvery > 7*24*time.Hour {
		bad("retention-every", "%s is outside 1s to 168h", c.RetentionEvery)
	}
	if _, err := httpx.ParsePrefixes(c.TrustedProxies); err != nil {
		bad("trusted-proxies", "%v", err)
	}
	// Longer than one delivery may take (webhook.TotalTimeout, the mail timeout),
	// so a live server never loses a message it is sending.
	if c.NotifyLease < 40*time.Second || c.NotifyLease > time.Hour {
		bad("notify-lease", "%s is outside 40s to 1h", c.NotifyLease)
	}
	if c.NotifyRetention < time.Hour {
		bad("notify-retention", "%s is too short; at least 1h", c.NotifyRetention)
	}
	if _, err := webhook.ParseAllow(c.WebhookAllow); err != nil {
		bad("webhook-allow", "%v", err)
	}
	return errors.Join(errs...)
}

// Level parses LogLevel.
func (c *Config) Level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("%q is not debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}

// SQLitePath is where the SQLite database lives.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "backapp.db") }

// TLS reports whether the server serves HTTPS itself.
func (c *Config) TLS() bool { return c.TLSCert != "" }

// Secure reports whether browsers reach the server over HTTPS (directly or through a
// proxy, as the base URL says), so cookies must be Secure.
func (c *Config) Secure() bool { return c.TLS() || strings.HasPrefix(c.BaseURL, "https://") }
