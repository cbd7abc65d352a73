package sqlstore

import (
	"context"
	"time"
)

// GetSetting returns the value of key; ErrNotFound for a key never set.
func (s *Store) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	if err := s.queryRow(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v); err != nil {
		return "", mapErr("get setting "+key, err)
	}
	return v, nil
}

// SetSetting creates or replaces the value of key.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.exec(ctx, `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		key, value, s.t(time.Now()))
	return mapErr("set setting "+key, err)
}
