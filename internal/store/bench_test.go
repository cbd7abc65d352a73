package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/store/postgres"
	"github.com/backapp/backapp/internal/store/sqlite"
)

// BenchmarkStore times the store calls behind an agent's heartbeat and behind the
// pages, one at a time, on both databases (the same code measured the two
// implementations sqlstore replaced; see docs/benchmarks.md):
//
//	go test -run '^$' -bench BenchmarkStore -count 5 ./internal/store/
func BenchmarkStore(b *testing.B) {
	for _, db := range []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"sqlite", func(b *testing.B) store.Store {
			s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"postgres", func(b *testing.B) store.Store {
			s, err := postgres.Open(context.Background(), pgtest.New(b))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	} {
		b.Run(db.name, func(b *testing.B) {
			s := db.open(b)
			defer s.Close()
			benchStore(b, s)
		})
	}
}

func benchStore(b *testing.B, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	u := store.User{Email: "bench@example.com", Name: "bench", PasswordHash: "x", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateUser(ctx, &u, false); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateSession(ctx, store.Session{TokenHash: "tok", UserID: u.ID, CSRFToken: "c",
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	a := store.Agent{UserID: u.ID, Name: "box", KeyHash: "keyhash", KeyPrefix: "bk", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateAgent(ctx, &a); err != nil {
		b.Fatal(err)
	}
	c := store.BackupConfig{UserID: u.ID, Name: "c", Enabled: true, ExecutionMode: "agent", AgentID: a.ID,
		Sources: []byte(`[{"path":"/home"}]`), Destination: []byte(`{}`), Options: []byte(`{}`), CreatedAt: now, UpdatedAt: now}
	if err := s.CreateConfig(ctx, &c); err != nil {
		b.Fatal(err)
	}
	for i := range 200 {
		start := now.Add(-time.Duration(i) * time.Hour)
		end := start.Add(time.Minute)
		r := store.Run{ConfigID: c.ID, UserID: u.ID, AgentID: a.ID, StartTime: start, EndTime: &end, Status: "completed",
			S3Path: fmt.Sprintf("users/x/backup-%d.tar.gz", i), ArchiveSize: 1 << 20, Errors: []byte(`[]`)}
		if err := s.CreateRun(ctx, &r); err != nil {
			b.Fatal(err)
		}
	}
	for _, op := range []struct {
		name string
		fn   func(i int) error
	}{
		{"GetAgentByKeyHash", func(int) error { _, err := s.GetAgentByKeyHash(ctx, "keyhash"); return err }},
		{"ActiveRuns", func(int) error { _, err := s.ActiveRuns(ctx, a.ID); return err }},
		{"ListAgentConfigs", func(int) error { _, err := s.ListAgentConfigs(ctx, a.ID); return err }},
		{"RecordHeartbeat", func(i int) error {
			return s.RecordHeartbeat(ctx, a.ID, store.AgentHeartbeat{Time: now.Add(time.Duration(i) * time.Millisecond), Version: "1"})
		}},
		{"GetSession", func(int) error { _, _, err := s.GetSession(ctx, "tok"); return err }},
		{"ListRunRecords50", func(int) error {
			_, _, err := s.ListRunRecords(ctx, store.RunFilter{UserID: u.ID, Limit: 50})
			return err
		}},
	} {
		b.Run(op.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if err := op.fn(i); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
