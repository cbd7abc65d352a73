package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/backapp/backapp/internal/store"
	"github.com/google/uuid"
)

// AddAudit appends an entry. An empty ID gets a new UUID v7 and a zero Time the
// current time.
func (s *Store) AddAudit(ctx context.Context, e store.AuditEntry) error {
	if e.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("add audit %s: %w", e.Action, err)
		}
		e.ID = id.String()
	}
	if e.ActorID != "" && !s.validID(e.ActorID) {
		return fmt.Errorf("add audit %s: invalid actor id %q", e.Action, e.ActorID)
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	var actor any
	if e.ActorID != "" {
		actor = e.ActorID
	}
	_, err := s.exec(ctx, `INSERT INTO audit_log (id, time, actor_id, action, target, ip, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, e.ID, s.t(e.Time), actor, e.Action, e.Target, e.IP, e.Detail)
	return mapErr("add audit "+e.Action, err)
}

// ListAudit returns at most limit entries, newest first.
func (s *Store) ListAudit(ctx context.Context, limit int) ([]store.AuditEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	return queryAll(ctx, s, "list audit", `SELECT id, time, COALESCE(CAST(actor_id AS TEXT), ''), action, target, ip, detail
		FROM audit_log ORDER BY time DESC, id DESC LIMIT ?`,
		func(row scanner, e *store.AuditEntry) error {
			return row.Scan(&e.ID, timeCol{&e.Time}, &e.ActorID, &e.Action, &e.Target, &e.IP, &e.Detail)
		}, limit)
}
