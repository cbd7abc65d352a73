package restores

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/store"
)

// IdentityPurpose is the master-key purpose that seals an age identity given for one
// restore while it waits for its agent.
const IdentityPurpose = "restore-identity"

// identityTTL is how long an identity waits for its restore's agent to acknowledge
// the restore; after that it is erased (a restore handed out later fails saying the
// archive needs an identity).
const identityTTL = 24 * time.Hour

// maxIdentityBytes bounds an identity file: a few lines of AGE-SECRET-KEY-1….
const maxIdentityBytes = 16 << 10

// The age identities people give for a restore of a backup encrypted to recipients
// are sealed under the master key with the restore's id as associated data and kept
// with the restore in the database (store.Restore.Identity), never in clear, a log,
// a page or an API answer. Every hand-out of the restore carries the identity, on
// whichever replica the agent's heartbeat reaches, until the agent acknowledges the
// restore (lists it in a heartbeat or reports progress): a hand-out whose answer is
// lost is repeated with it. Then, or when the restore is cancelled or settles, or a
// day after it was given (identityTTL), it is erased (docs/restores.md).

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

// sealIdentity gives r an id (the identity is sealed to it) and the sealed identity
// that CreateRestore keeps with it.
func (s *Service) sealIdentity(r *store.Restore, identity string) error {
	if r.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("new restore id: %w", err)
		}
		r.ID = id.String()
	}
	sealed, err := s.keys.Seal(IdentityPurpose, []byte(identity), []byte(r.ID))
	if err != nil {
		return apperr.Wrap(apperr.Internal, err, "seal the identity for restore %s", r.ID)
	}
	r.Identity = &store.SealedIdentity{Sealed: sealed, Until: s.now().Add(identityTTL)}
	return nil
}

// Identity returns the age identity given for restore id, opened for a restore
// command that hands the restore to its agent: "" when none is kept (none was given,
// the agent acknowledged the restore, it settled, or a day passed). A database error
// is returned, so that the restore is not handed out without it. The identity stays
// kept: a hand-out whose answer is lost is repeated with it.
func (s *Service) Identity(ctx context.Context, id string) (string, error) {
	sealed, err := s.st.RestoreIdentity(ctx, id, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the identity of restore %s: %w", id, err)
	}
	b, err := s.keys.Open(IdentityPurpose, sealed, []byte(id))
	if err != nil {
		// Another master key than the one that sealed it: the agent says it needs one.
		s.log.Error("restore: the identity kept for the restore cannot be opened", "restore", id, "err", err)
		return "", nil
	}
	return string(b), nil
}
