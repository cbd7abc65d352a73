package notify

import (
	"encoding/base64"
	"fmt"

	"github.com/backapp/backapp/internal/store"
)

// Sealer encrypts channels' signing secrets at rest (secrets.Keys), bound to their
// owner so a sealed secret cannot be moved to another user's channel.
type Sealer interface {
	Seal(purpose string, plaintext, context []byte) ([]byte, error)
	Open(purpose string, sealed, context []byte) ([]byte, error)
}

const secretPurpose = "notification channel secret"

// seal returns c with its secret sealed for storage (as it is without a Sealer).
func seal(k Sealer, c store.Channel) (store.Channel, error) {
	if k == nil || c.Secret == "" {
		return c, nil
	}
	b, err := k.Seal(secretPurpose, []byte(c.Secret), []byte(c.UserID))
	if err != nil {
		return c, fmt.Errorf("seal the channel's secret: %w", err)
	}
	c.Secret = base64.StdEncoding.EncodeToString(b)
	return c, nil
}

// unseal returns c, read from the store, with its secret in plain text.
func unseal(k Sealer, c store.Channel) (store.Channel, error) {
	if k == nil || c.Secret == "" {
		return c, nil
	}
	b, err := base64.StdEncoding.DecodeString(c.Secret)
	if err == nil {
		b, err = k.Open(secretPurpose, b, []byte(c.UserID))
	}
	if err != nil {
		return c, fmt.Errorf("read the signing secret of channel %q: %w", c.Name, err)
	}
	c.Secret = string(b)
	return c, nil
}
