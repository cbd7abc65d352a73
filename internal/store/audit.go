package store

import (
	"context"
	"time"
)

// AuditEntry is one security-relevant event.
type AuditEntry struct {
	ID      string
	Time    time.Time
	ActorID string // user who acted; empty for anonymous (failed login of unknown e-mail)
	Action  string // e.g. "login.success", "login.failure", "password.change", "user.role"
	Target  string // user id or e-mail the action was about
	IP      string
	Detail  string // short human text, never secrets
}

// Audit stores the audit log.
type Audit interface {
	AddAudit(ctx context.Context, e AuditEntry) error
	// ListAudit returns entries newest first, at most limit.
	ListAudit(ctx context.Context, limit int) ([]AuditEntry, error)
}
