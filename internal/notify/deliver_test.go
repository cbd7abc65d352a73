package notify_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/mail"
	"github.com/backapp/backapp/internal/notify"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/testenv/smtptest"
)

func smtpSender(t *testing.T, host string, port int, user, pass string) mail.Sender {
	t.Helper()
	s, err := mail.NewSMTP(mail.Config{Host: host, Port: port, Username: user, Password: pass, From: "backapp@example.com",
		TLS: mail.TLSNone, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func failurePayload(t *testing.T) []byte {
	t.Helper()
	end := time.Date(2026, 12, 5, 3, 0, 12, 0, time.UTC)
	a := store.Alert{ID: "0193a0a0-0000-7000-8000-000000000001", UserID: "u", ConfigID: "c1", AgentID: "g1", Type: "failure",
		Rule: "run_failed", Subject: "c1", Ref: "run-42", Message: `backup "nightly" on "db1" failed: access denied (run run-42)`,
		Timestamp: end, Occurrences: 1, ConfigName: "nightly", AgentName: "db1"}
	return notify.Noticer{BaseURL: "https://backup.example.com"}.Notice(a, notify.EventFailure).Payload
}

// TestMailDelivery: a failure e-mail reaches a real SMTP server naming the
// configuration, the agent, the error and the run's link; an SMTP server that
// refuses (it wants a login) or drops the connection is a failed delivery whose
// error says which, to be recorded and retried.
func TestMailDelivery(t *testing.T) {
	ch := store.Channel{ID: "ch", Name: "ops", Kind: store.ChannelEmail, Target: "ops@example.com"}
	ctx := context.Background()

	sink := smtptest.Start(t)
	d := &notify.Dispatcher{Mail: smtpSender(t, sink.Host(), sink.Port(), "", "")}
	if got := d.Deliver(ctx, ch, "m1", failurePayload(t)); got.Err != nil {
		t.Fatalf("deliver: %v", got.Err)
	}
	m := sink.WaitForMessage(t, "ops@example.com", 10*time.Second)
	if m.Subject != `[backapp] Failed: backup "nightly"` {
		t.Errorf("subject = %q", m.Subject)
	}
	for _, s := range []string{"Configuration: nightly", "Agent:         db1", "Error:         backup \"nightly\" on \"db1\" failed: access denied",
		"https://backup.example.com/backups/run-42", "https://backup.example.com/alerts", `channel "ops"`} {
		if !strings.Contains(m.Text, s) {
			t.Errorf("the mail does not say %q:\n%s", s, m.Text)
		}
	}

	refusing := smtptest.Start(t, smtptest.WithAuth("backapp", "the password"))
	d = &notify.Dispatcher{Mail: smtpSender(t, refusing.Host(), refusing.Port(), "", "")}
	got := d.Deliver(ctx, ch, "m2", failurePayload(t))
	if got.Err == nil || !strings.Contains(got.Err.Error(), "e-mail to ops@example.com") || !strings.Contains(got.Err.Error(), "authenticate") {
		t.Errorf("refused: %v, want the address and why", got.Err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close() // drops every connection at once
		}
	}()
	addr := ln.Addr().(*net.TCPAddr)
	d = &notify.Dispatcher{Mail: smtpSender(t, "127.0.0.1", addr.Port, "", "")}
	if got := d.Deliver(ctx, ch, "m3", failurePayload(t)); got.Err == nil || !strings.Contains(got.Err.Error(), "e-mail to ops@example.com") {
		t.Errorf("dropped connection: %v, want an error", got.Err)
	}
	d = &notify.Dispatcher{Mail: mail.Disabled{}}
	if got := d.Deliver(ctx, ch, "m4", failurePayload(t)); got.Err == nil || !strings.Contains(got.Err.Error(), "--smtp-host") {
		t.Errorf("without SMTP settings: %v", got.Err)
	}
}
