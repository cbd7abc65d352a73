package notify

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/mail"
	"github.com/backapp/backapp/internal/notify/webhook"
	"github.com/backapp/backapp/internal/store"
)

// Dispatcher sends one message over one channel: e-mail through the server's SMTP
// settings, webhooks through the guarded client.
type Dispatcher struct {
	Mail   mail.Sender  // mail.Disabled when the server has no SMTP settings
	Client *http.Client // webhook.Guard's Client
	Now    func() time.Time
	// Keys opens channels' sealed secrets as the outbox reads them from the
	// database (nil: stored as they are). Channels from Service come opened.
	Keys Sealer
}

// MailTimeout bounds one e-mail delivery.
const MailTimeout = 30 * time.Second

// Delivery is how one delivery went.
type Delivery struct {
	Status   int
	Response string
	Err      error
	Duration time.Duration
}

// Attempt is d as the attempt recorded for event at at.
func (d Delivery) Attempt(event string, at time.Time) store.Attempt {
	a := store.Attempt{Event: event, At: at, Status: d.Status, Response: clip(d.Response, 2000), Duration: d.Duration}
	if d.Err != nil {
		a.Error = clip(d.Err.Error(), 2000)
	}
	return a
}

// Deliver sends payload (a stored generic document) as delivery id over ch, a
// channel as the store holds it (its secret sealed).
func (d *Dispatcher) Deliver(ctx context.Context, ch store.Channel, id string, payload []byte) Delivery {
	ch, err := unseal(d.Keys, ch)
	if err != nil {
		return Delivery{Err: err}
	}
	return d.deliver(ctx, ch, id, payload)
}

// deliver sends payload over ch, its secret in plain text.
func (d *Dispatcher) deliver(ctx context.Context, ch store.Channel, id string, payload []byte) Delivery {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	p, err := Decode(payload)
	if err != nil {
		return Delivery{Err: err}
	}
	switch ch.Kind {
	case store.ChannelEmail:
		start := time.Now()
		ctx, cancel := context.WithTimeout(ctx, MailTimeout)
		defer cancel()
		err := d.Mail.Send(ctx, Mail(ch, p))
		if err != nil {
			err = fmt.Errorf("e-mail to %s: %w", ch.Target, err)
		}
		return Delivery{Err: err, Duration: time.Since(start), Response: okText(err, "accepted by the SMTP server")}
	case store.ChannelWebhook:
		r := webhook.Send(ctx, d.Client, webhook.Request{URL: ch.Target, Preset: ch.Preset, Secret: ch.Secret, ID: id,
			Event: p.Event, Body: payload, Title: p.Title, Text: text(p),
			Failure: p.Event == EventFailure || p.Event == EventAgentOffline}, now())
		return Delivery{Status: r.Status, Response: r.Response, Err: r.Err, Duration: r.Duration}
	}
	return Delivery{Err: fmt.Errorf("unknown channel kind %q", ch.Kind)}
}

func okText(err error, s string) string {
	if err != nil {
		return ""
	}
	return s
}

// text is what presets show: the payload's text and its links.
func text(p Payload) string {
	var b strings.Builder
	b.WriteString(p.Text)
	if p.Alert != nil && p.Alert.RunURL != "" {
		b.WriteString("\nRun: " + p.Alert.RunURL)
	}
	if p.URL != "" {
		b.WriteString("\n" + p.URL)
	}
	return b.String()
}

// Mail is the e-mail of payload p for channel ch.
func Mail(ch store.Channel, p Payload) mail.Message {
	n := mail.Notification{Channel: ch.Name, Title: p.Title, Text: p.Text, Link: p.URL}
	if a := p.Alert; a != nil {
		n.Config, n.Agent, n.RunLink = a.ConfigName, a.AgentName, a.RunURL
		if a.ConfigName == "" && a.ConfigID != "" {
			n.Config = a.ConfigID
		}
		if a.ResolvedAt == nil && (a.Type == "failure" || a.Type == "warning") {
			n.Text, n.Error = p.Title+".", a.Message
		}
		n.When = a.LastAt.Format("2006-01-02 15:04:05 MST")
		if a.Occurrences > 1 {
			n.When += fmt.Sprintf(" (occurrence %d since %s)", a.Occurrences, a.FirstAt.Format("2006-01-02 15:04 MST"))
		}
	}
	return mail.NotificationMail(ch.Target, n)
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
