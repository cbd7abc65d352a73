// Package pgtest gives tests a fresh, empty PostgreSQL database of their own on the
// server named by TEST_DATABASE_URL (started by scripts/services/postgres.sh).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/backapp/backapp/internal/testenv"
)

// EnvVar names the server tests may create databases on.
const EnvVar = "TEST_DATABASE_URL"

// New creates a uniquely named empty database and returns its URL; the database is
// dropped (even with connections still open) when the test ends. Without
// TEST_DATABASE_URL the test is skipped, or fails in CI. The role in the URL needs
// CREATEDB.
func New(t testing.TB) string {
	t.Helper()
	base := testenv.Env(t, EnvVar, "make test starts PostgreSQL and sets it; or export a postgres:// URL")
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: parse %s: %v", EnvVar, err)
	}

	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := "backapp_test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect to %s (%s): %v", EnvVar, u.Redacted(), err)
	}
	defer func() { _ = admin.Close(context.Background()) }()
	// template0: nothing another test put in template1 leaks in.
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer func() { _ = conn.Close(context.Background()) }()
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})

	u.Path = "/" + name
	return u.String()
}
