package web

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/backapp/backapp/internal/agents"
)

// keyShowFor is how long a new key stays viewable after it is made, so that a
// reload or Back shows it again instead of re-posting the form.
const keyShowFor = 15 * time.Minute

// keyStash holds new agent keys in this server's memory only (never a URL, a cookie
// or the database) for keyShowFor, each for the session that made it: the form's
// POST redirects to GET /agents/{id}/key?t=…, which reads it here.
type keyStash struct {
	mu      sync.Mutex
	entries map[string]stashedKey
}

type stashedKey struct {
	session string // auth.Session.TokenHash of the session that made it
	created agents.Created
	rotated bool
	expires time.Time
}

// put keeps c for session and returns the token that finds it.
func (s *keyStash) put(session string, c agents.Created, rotated bool, now time.Time) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	t := hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries == nil {
		s.entries = map[string]stashedKey{}
	}
	for k, e := range s.entries {
		if !now.Before(e.expires) {
			delete(s.entries, k)
		}
	}
	s.entries[t] = stashedKey{session: session, created: c, rotated: rotated, expires: now.Add(keyShowFor)}
	return t
}

// get returns the key of token t for session, if it is still kept.
func (s *keyStash) get(t, session string, now time.Time) (stashedKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[t]
	if !ok || e.session != session || !now.Before(e.expires) {
		return stashedKey{}, false
	}
	return e, true
}
