package store

import "context"

// Settings stores the server's settings: values by key, set from the admin pages.
type Settings interface {
	// GetSetting returns ErrNotFound for a key never set.
	GetSetting(ctx context.Context, key string) (string, error)
	SetSetting(ctx context.Context, key, value string) error
}
