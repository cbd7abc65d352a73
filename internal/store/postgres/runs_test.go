package postgres_test

import (
	"testing"

	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/store/storetest"
)

func TestPostgresRuns(t *testing.T) {
	storetest.RunRuns(t, func(t *testing.T) store.Store {
		return open(t, pgtest.New(t))
	})
}
