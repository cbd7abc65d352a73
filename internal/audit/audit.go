package audit

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/backapp/backapp/internal/store"
)

// Store keeps audit entries.
type Store interface {
	AddAudit(ctx context.Context, e store.AuditEntry) error
}

// Writer writes audit entries to Store and logs them. Log and Now may be nil (no log,
// time.Now).
type Writer struct {
	Store Store
	Log   *slog.Logger
	Now   func() time.Time
}

// Write records that actorID did action to target from ip, with detail (never a
// secret: keys appear only by their display prefix). The entry is written even when
// ctx is cancelled mid-request, so no audit row is lost; a failed write is logged,
// never returned: the action itself has happened.
func (w Writer) Write(ctx context.Context, actorID, action, target, ip, detail string) {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	log := w.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := store.AuditEntry{Time: now().UTC(), ActorID: actorID, Action: action, Target: target, IP: ip, Detail: detail}
	if id, err := uuid.NewV7(); err == nil {
		e.ID = id.String()
	}
	if err := w.Store.AddAudit(context.WithoutCancel(ctx), e); err != nil {
		log.Error("write audit log", "action", action, "err", err)
	}
	log.Info("audit", "action", action, "actor", actorID, "target", target, "ip", ip, "detail", detail)
}
