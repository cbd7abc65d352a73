package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Presets: the body a webhook gets. Generic is backapp's own versioned, signed JSON
// document; the others are what those services accept as they are.
const (
	Generic = "generic"
	Slack   = "slack"
	Discord = "discord"
	Teams   = "teams"
	Ntfy    = "ntfy"
	Gotify  = "gotify"
)

// Presets lists every preset.
var Presets = []string{Generic, Slack, Discord, Teams, Ntfy, Gotify}

// Headers of a generic delivery: the signature is "sha256=" and the hex HMAC-SHA256,
// keyed with the channel's secret, of the timestamp (Unix seconds), a dot and the
// body; a receiver recomputes it and refuses a timestamp too far from its clock.
const (
	HeaderSignature = "X-Backapp-Signature"
	HeaderTimestamp = "X-Backapp-Timestamp"
	HeaderDelivery  = "X-Backapp-Delivery"
	HeaderEvent     = "X-Backapp-Event"
)

// Request is one delivery.
type Request struct {
	URL    string
	Preset string
	Secret string // generic: the HMAC key ("": unsigned)
	ID     string // the delivery's id (X-Backapp-Delivery), the same on every retry
	Event  string
	// Body is the generic JSON document; Title and Text are what the presets show.
	Body        []byte
	Title, Text string
	Failure     bool // a failure (presets raise its priority)
}

// Sign returns the X-Backapp-Signature value of body sent at ts with secret.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", ts)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a generic delivery's signature and that its timestamp is within
// tolerance of now: what a receiver does (documented in docs/notifications.md).
func Verify(secret, signature, timestamp string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q is not Unix seconds", timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("timestamp %s is %s away from now: a replay or a wrong clock", timestamp, d.Round(time.Second))
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature)) {
		return fmt.Errorf("signature does not match the body")
	}
	return nil
}

// CheckURL reports what is wrong with a webhook URL before anything is sent: it must
// be absolute http or https with a host, and carry no user and password.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("the URL must start with http:// or https://, not %q", u.Scheme+":")
	}
	if u.Host == "" {
		return fmt.Errorf("the URL has no host")
	}
	if u.User != nil {
		return fmt.Errorf("the URL must not carry a user name or password")
	}
	return nil
}

// Build makes the HTTP request of r at now.
func Build(ctx context.Context, r Request, now time.Time) (*http.Request, error) {
	if err := CheckURL(r.URL); err != nil {
		return nil, err
	}
	var body []byte
	ctype := "application/json"
	var err error
	switch r.Preset {
	case Generic, "":
		body = r.Body
	case Slack:
		body, err = json.Marshal(map[string]string{"text": "*" + r.Title + "*\n" + r.Text})
	case Discord:
		body, err = json.Marshal(map[string]string{"content": clip("**"+r.Title+"**\n"+r.Text, 2000)})
	case Teams:
		color := "2E7D32"
		if r.Failure {
			color = "C62828"
		}
		body, err = json.Marshal(map[string]any{"@type": "MessageCard", "@context": "https://schema.org/extensions",
			"summary": r.Title, "themeColor": color, "title": r.Title, "text": r.Text})
	case Ntfy:
		body, ctype = []byte(r.Text), "text/plain; charset=utf-8"
	case Gotify:
		prio := 5
		if r.Failure {
			prio = 8
		}
		body, err = json.Marshal(map[string]any{"title": r.Title, "message": r.Text, "priority": prio})
	default:
		return nil, fmt.Errorf("unknown preset %q (one of %s)", r.Preset, strings.Join(Presets, ", "))
	}
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("User-Agent", "backapp-webhook/1")
	if r.ID != "" {
		req.Header.Set(HeaderDelivery, r.ID)
	}
	if r.Event != "" {
		req.Header.Set(HeaderEvent, r.Event)
	}
	switch r.Preset {
	case Generic, "":
		ts := now.Unix()
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		if r.Secret != "" {
			req.Header.Set(HeaderSignature, Sign(r.Secret, ts, body))
		}
	case Ntfy:
		req.Header.Set("Title", oneLine(r.Title))
		if r.Failure {
			req.Header.Set("Priority", "high")
		}
	}
	return req, nil
}

// Result is how a delivery went.
type Result struct {
	Status   int    // the HTTP status; 0 when none came
	Response string // the start of the answer (at most MaxBodyRead bytes)
	Err      error  // nil when the remote answered 2xx
	Duration time.Duration
}

// Send delivers r with c (a Guard's Client) and reads back at most MaxBodyRead
// bytes. A status that is not 2xx is an error naming it and the answer's start;
// a redirect is not followed, and is an error too.
func Send(ctx context.Context, c *http.Client, r Request, now time.Time) Result {
	start := time.Now()
	req, err := Build(ctx, r, now)
	if err != nil {
		return Result{Err: err}
	}
	resp, err := c.Do(req)
	if err != nil {
		return Result{Err: err, Duration: time.Since(start)}
	}
	defer resp.Body.Close()
	body, rerr := ReadBody(resp)
	res := Result{Status: resp.StatusCode, Response: body, Duration: time.Since(start)}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		res.Err = fmt.Errorf("status %d: redirects are not followed (to %q)", resp.StatusCode, resp.Header.Get("Location"))
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		res.Err = fmt.Errorf("status %d: %s", resp.StatusCode, clip(oneLine(body), 300))
	case rerr != nil:
		res.Err = fmt.Errorf("status %d, reading the answer: %w", resp.StatusCode, rerr)
	}
	return res
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
