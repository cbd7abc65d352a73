package seal

import (
	"bytes"
	"encoding/binary"
	"sync"

	"filippo.io/age"
)

// RememberKeys returns identities that unwrap each age header once: opening a file
// whose recipient stanzas are byte for byte those of a file opened before gets the file
// key found then, without running the identity again. A passphrase identity runs scrypt
// on every unwrap (2^18 by default: about a second of CPU), and a restore reads the same
// manifest several times (to check the chain, then once per archive), so without this a
// restore of a chain of N runs with delta manifests paid (N+1)² scrypt runs instead of
// 2N (see docs/engine.md, Encryption).
//
// The same stanzas always unwrap to the same file key (a stanza is the file key sealed
// under a key derived from the identity and the stanza's own salt), so a remembered key
// is exactly what the identity would return again, and a stanza never seen before is
// unwrapped by the identity: nothing opens that would not have opened without it. Only
// successes are remembered. The keys stay in memory only: call forget when done, which
// zeroes them (they open every file opened through the identities since).
func RememberKeys(ids []age.Identity) (remembering []age.Identity, forget func()) {
	rs := make([]*rememberingIdentity, len(ids))
	remembering = make([]age.Identity, len(ids))
	for i, id := range ids {
		rs[i] = &rememberingIdentity{id: id, keys: map[string][]byte{}}
		remembering[i] = rs[i]
	}
	return remembering, func() {
		for _, r := range rs {
			r.forget()
		}
	}
}

// rememberingIdentity is one identity of RememberKeys.
type rememberingIdentity struct {
	id age.Identity
	// mu is held while the identity unwraps, so that two readers opening the same
	// file at once run it once.
	mu   sync.Mutex
	keys map[string][]byte // the header's stanzas (stanzaKey) → file key
}

// Unwrap implements age.Identity. Callers get their own copy of the key.
func (r *rememberingIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	k := stanzaKey(stanzas)
	r.mu.Lock()
	defer r.mu.Unlock()
	if key, ok := r.keys[k]; ok {
		return bytes.Clone(key), nil
	}
	key, err := r.id.Unwrap(stanzas)
	if err != nil {
		return nil, err
	}
	r.keys[k] = bytes.Clone(key)
	return key, nil
}

func (r *rememberingIdentity) forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, key := range r.keys {
		clear(key)
	}
	clear(r.keys)
}

// stanzaKey encodes stanzas unambiguously: every field length-prefixed.
func stanzaKey(stanzas []*age.Stanza) string {
	var b []byte
	field := func(s []byte) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(stanzas)))
	for _, s := range stanzas {
		field([]byte(s.Type))
		b = binary.AppendUvarint(b, uint64(len(s.Args)))
		for _, a := range s.Args {
			field([]byte(a))
		}
		field(s.Body)
	}
	return string(b)
}
