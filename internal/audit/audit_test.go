package audit_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/audit"
	"github.com/backapp/backapp/internal/store/sqlite"
)

// An entry is written with an id and the injected time in UTC, even when the request's
// context was cancelled meanwhile (the action happened; its audit row must not be lost).
func TestWriteSurvivesCancelledRequest(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "backapp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 3, 14, 15, 9, 26, 0, time.FixedZone("CET", 3600))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	audit.Writer{Store: st, Now: func() time.Time { return at }}.Write(ctx, "u1", "config.delete", "c1", "192.0.2.1", `name "home"`)

	got, err := st.ListAudit(context.Background(), 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("ListAudit = %+v, %v; want one entry", got, err)
	}
	e := got[0]
	if e.ID == "" || !e.Time.Equal(at) || e.Time.Location() != time.UTC || e.ActorID != "u1" || e.Action != "config.delete" ||
		e.Target != "c1" || e.IP != "192.0.2.1" || e.Detail != `name "home"` {
		t.Errorf("entry = %+v; want id set, %s in UTC, u1 config.delete c1 from 192.0.2.1", e, at.UTC())
	}
}
