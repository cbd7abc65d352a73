package postgres_test

import (
	"context"
	"testing"

	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/store/postgres"
	"github.com/backapp/backapp/internal/store/storetest"
)

func open(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, pgtest.New(t))
	})
}

func TestPostgresRuns(t *testing.T) {
	storetest.RunRuns(t, func(t *testing.T) store.Store {
		return open(t, pgtest.New(t))
	})
}
