package restores

import (
	"strings"
	"sync"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/engine/seal"
)

// IdentityPurpose is the master-key purpose that seals an age identity given for one
// restore while it waits for its agent.
const IdentityPurpose = "restore-identity"

// identityTTL is how long an identity waits for its restore's agent; after that it is
// dropped (the restore then fails saying the archive needs an identity).
const identityTTL = 24 * time.Hour

// maxIdentityBytes bounds an identity file: a few lines of AGE-SECRET-KEY-1….
const maxIdentityBytes = 16 << 10

// identityBox holds the age identities people give for one restore of a backup
// encrypted to recipients: sealed under the master key with the restore's id as
// context, in this process's memory only (never in the database, a log or a page),
// until the agent is handed the restore command, which takes it out.
//
// With several replicas the identity is held by the replica that took the form: a
// heartbeat that reaches another replica hands the restore out without it, and the
// agent reports that the archive needs an identity (docs/restores.md).
type identityBox struct {
	mu sync.Mutex
	m  map[string]sealedIdentity
}

type sealedIdentity struct {
	sealed []byte
	until  time.Time
}

// checkIdentity validates text as age identities for the form: "" when it is one or
// more identities, else what is wrong in words.
func checkIdentity(text string) string {
	switch {
	case len(text) > maxIdentityBytes:
		return "the identity file is too large: it should be a few lines starting with AGE-SECRET-KEY-1"
	case strings.Contains(text, "-----BEGIN"):
		return "this looks like an SSH or PEM key; give the age identity (a line starting with AGE-SECRET-KEY-1, as age-keygen writes it)"
	}
	if _, err := seal.ParseIdentities(text); err != nil {
		return "this is not an age identity: give the file age-keygen wrote, or its line starting with AGE-SECRET-KEY-1"
	}
	return ""
}

// keepIdentity seals identity for restore id and keeps it until the agent takes it.
func (s *Service) keepIdentity(id, identity string) error {
	sealed, err := s.keys.Seal(IdentityPurpose, []byte(identity), []byte(id))
	if err != nil {
		return apperr.Wrap(apperr.Internal, err, "seal the identity for restore %s", id)
	}
	now := s.now()
	s.ids.mu.Lock()
	defer s.ids.mu.Unlock()
	for k, v := range s.ids.m {
		if now.After(v.until) {
			delete(s.ids.m, k)
		}
	}
	s.ids.m[id] = sealedIdentity{sealed: sealed, until: now.Add(identityTTL)}
	return nil
}

// TakeIdentity returns the age identity given for restore id, opened for the restore
// command that hands it to the agent, and forgets it: "" when none was given (or it
// is held by another replica, or expired).
func (s *Service) TakeIdentity(id string) string {
	s.ids.mu.Lock()
	v, ok := s.ids.m[id]
	delete(s.ids.m, id)
	s.ids.mu.Unlock()
	if !ok || s.now().After(v.until) {
		return ""
	}
	b, err := s.keys.Open(IdentityPurpose, v.sealed, []byte(id))
	if err != nil {
		s.log.Error("restore: the identity kept for the restore cannot be opened", "restore", id, "err", err)
		return ""
	}
	return string(b)
}

// forgetIdentity drops the identity of a restore that will never be handed out.
func (s *Service) forgetIdentity(id string) {
	s.ids.mu.Lock()
	delete(s.ids.m, id)
	s.ids.mu.Unlock()
}
