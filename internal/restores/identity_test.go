package restores

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/secrets"
)

// TestIdentityBox: an identity given for a restore is kept sealed under the master key
// (not in clear), handed out once, only for its restore, and dropped after a day;
// checkIdentity accepts age identity files and names what else it got.
func TestIdentityBox(t *testing.T) {
	keys, err := secrets.Load(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s := &Service{keys: keys, log: slog.New(slog.DiscardHandler), now: func() time.Time { return now }, ids: identityBox{m: map[string]sealedIdentity{}}}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	file := "# created: 2026-12-01\n# public key: " + id.Recipient().String() + "\n" + id.String()
	if msg := checkIdentity(file); msg != "" {
		t.Errorf("an identity file is refused: %s", msg)
	}
	for in, want := range map[string]string{
		"-----BEGIN OPENSSH PRIVATE KEY-----\nabc": "SSH or PEM",
		id.Recipient().String():                    "not an age identity",
		strings.Repeat("x", maxIdentityBytes+1):    "too large",
	} {
		if msg := checkIdentity(in); !strings.Contains(msg, want) {
			t.Errorf("checkIdentity(%.20q) = %q, want it to say %q", in, msg, want)
		}
	}

	if err := s.keepIdentity("r1", file); err != nil {
		t.Fatal(err)
	}
	if sealed := string(s.ids.m["r1"].sealed); strings.Contains(sealed, "AGE-SECRET-KEY") {
		t.Error("the identity is kept in clear")
	}
	if got := s.TakeIdentity("r2"); got != "" {
		t.Errorf("another restore takes %q", got)
	}
	if got := s.TakeIdentity("r1"); got != file {
		t.Errorf("TakeIdentity = %q, want the file given", got)
	}
	if got := s.TakeIdentity("r1"); got != "" {
		t.Errorf("a second TakeIdentity = %q, want nothing: it is handed out once", got)
	}
	if err := s.keepIdentity("r3", file); err != nil {
		t.Fatal(err)
	}
	s.forgetIdentity("r3")
	if got := s.TakeIdentity("r3"); got != "" {
		t.Error("a forgotten identity (cancelled restore) is still handed out")
	}
	if err := s.keepIdentity("r4", file); err != nil {
		t.Fatal(err)
	}
	now = now.Add(identityTTL + time.Minute)
	if got := s.TakeIdentity("r4"); got != "" {
		t.Error("an identity older than a day is still handed out")
	}
}
