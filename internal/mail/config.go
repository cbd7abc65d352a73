package mail

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"time"
)

// TLSMode says how the connection to the SMTP server is protected.
type TLSMode string

// The TLS modes Config accepts.
const (
	// TLSStartTLS connects in plain text and upgrades with STARTTLS; a server that does
	// not offer STARTTLS is an error, never a silent fallback, because the mails carry
	// password reset links. The default; usually port 587.
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit speaks TLS from the first byte; usually port 465.
	TLSImplicit TLSMode = "tls"
	// TLSNone sends in plain text. Meant for a relay on the same machine and for
	// tests: with a user name it is only allowed to a loopback host.
	TLSNone TLSMode = "none"
)

// DefaultTimeout bounds connecting and each SMTP command when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Config says how to reach the SMTP server. The zero Port, TLS and Timeout take
// defaults (see Normalize); Host and From are required.
type Config struct {
	Host     string  // SMTP server host name or IP address
	Port     int     // 0: 587 for starttls, 465 for tls, 25 for none
	Username string  // "" sends without authentication
	Password string  // used only with Username; never logged or put in errors
	From     string  // sender address, optionally with a name: "backapp <backapp@example.com>"
	TLS      TLSMode // "" means TLSStartTLS
	Timeout  time.Duration

	// TLSConfig, if set, is used for STARTTLS and implicit TLS, for example to trust a
	// private CA. Its ServerName defaults to Host. nil uses the system roots.
	TLSConfig *tls.Config
}

// Normalize returns c with its defaults filled in and its values checked. Errors name
// the setting that is wrong.
func (c Config) Normalize() (Config, error) {
	c.Host = strings.TrimSpace(c.Host)
	if c.Host == "" {
		return c, errors.New("smtp host is empty")
	}
	if strings.ContainsAny(c.Host, " /:") && net.ParseIP(c.Host) == nil {
		return c, fmt.Errorf("smtp host %q: want a host name or IP address without port", c.Host)
	}
	if c.TLS == "" {
		c.TLS = TLSStartTLS
	}
	switch c.TLS {
	case TLSStartTLS:
		c.defaultPort(587)
	case TLSImplicit:
		c.defaultPort(465)
	case TLSNone:
		c.defaultPort(25)
	default:
		return c, fmt.Errorf("smtp tls mode %q: want starttls, tls or none", c.TLS)
	}
	if c.Port < 1 || c.Port > 65535 {
		return c, fmt.Errorf("smtp port %d: want 1 to 65535", c.Port)
	}
	if c.From == "" {
		return c, errors.New("smtp from address is empty")
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return c, fmt.Errorf("smtp from address %q: %w", c.From, err)
	}
	if c.Username == "" && c.Password != "" {
		return c, errors.New("smtp password is set but smtp username is empty")
	}
	if c.Username != "" && c.TLS == TLSNone && !isLoopback(c.Host) {
		return c, fmt.Errorf("smtp tls mode none with a username would send the password in plain text to %s: use starttls or tls", c.Host)
	}
	if c.Timeout < 0 {
		return c, fmt.Errorf("smtp timeout %v is negative", c.Timeout)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c, nil
}

func (c *Config) defaultPort(p int) {
	if c.Port == 0 {
		c.Port = p
	}
}

// Addr is the server's host:port.
func (c Config) Addr() string {
	return net.JoinHostPort(c.Host, fmt.Sprint(c.Port))
}

// isLoopback reports whether host names this machine without a DNS lookup that an
// attacker could influence: "localhost" or a loopback IP literal.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
