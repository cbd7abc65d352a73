package restores

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/secrets"
	"github.com/backapp/backapp/internal/store"
)

// identityStore keeps the sealed identities CreateRestore is given, as the store's
// identity columns do; err fails reading them. (storetest checks the real stores.)
type identityStore struct {
	Store
	kept map[string]store.SealedIdentity
	err  error
}

func (s *identityStore) RestoreIdentity(_ context.Context, id string, now time.Time) ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	v, ok := s.kept[id]
	if !ok || !now.Before(v.Until) {
		return nil, store.ErrNotFound
	}
	return v.Sealed, nil
}

// TestIdentity: an identity given for a restore is sealed under the master key (not
// in clear) to its restore's id, handed out at every hand-out while the store keeps
// it (not taken at the first), only for its restore, for a day; a database error is
// returned (the heartbeat must not hand the restore out without it); checkIdentity
// accepts age identity files and names what else it got.
func TestIdentity(t *testing.T) {
	ctx := context.Background()
	keys, err := secrets.Load(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	st := &identityStore{kept: map[string]store.SealedIdentity{}}
	s := &Service{st: st, keys: keys, log: slog.New(slog.DiscardHandler), now: func() time.Time { return now }}
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

	var r store.Restore
	if err := s.sealIdentity(&r, file); err != nil {
		t.Fatal(err)
	}
	if r.ID == "" || r.Identity == nil || !r.Identity.Until.Equal(now.Add(identityTTL)) {
		t.Fatalf("sealIdentity gave restore id %q, identity %+v; want an id and the identity until a day from now", r.ID, r.Identity)
	}
	if strings.Contains(string(r.Identity.Sealed), "AGE-SECRET-KEY") {
		t.Error("the identity is kept in clear")
	}
	st.kept[r.ID] = *r.Identity
	// Sealed to its restore: under another restore's id it does not open.
	st.kept["r2"] = *r.Identity
	if got, err := s.Identity(ctx, "r2"); got != "" || err != nil {
		t.Errorf("another restore's Identity = %q, %v; want none", got, err)
	}
	for i := range 2 {
		if got, err := s.Identity(ctx, r.ID); got != file || err != nil {
			t.Errorf("Identity, hand-out %d = %q, %v; want the file given", i+1, got, err)
		}
	}
	if got, err := s.Identity(ctx, "r3"); got != "" || err != nil {
		t.Errorf("Identity of a restore without one = %q, %v; want none", got, err)
	}
	now = now.Add(identityTTL)
	if got, err := s.Identity(ctx, r.ID); got != "" || err != nil {
		t.Errorf("Identity a day later = %q, %v; want none", got, err)
	}
	st.err = errors.New("connection refused")
	if got, err := s.Identity(ctx, r.ID); got != "" || err == nil {
		t.Errorf("Identity while the database is down = %q, %v; want an error", got, err)
	}
}
