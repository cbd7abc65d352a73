package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/backapp/backapp/internal/store/sqlstore"
)

// Advisory lock keys the store takes; see sqlstore.
const (
	LockFirstUser = sqlstore.LockFirstUser
	LockMigrate   = sqlstore.LockMigrate
)

// Store is the store on PostgreSQL. It is safe for concurrent use.
type Store struct {
	*sqlstore.Store
	pool *pgxpool.Pool
}

// Open connects to the database at url (postgres://…), checks that it answers and
// applies pending migrations; replicas starting together take turns. Close the store
// when done.
func Open(ctx context.Context, url string) (*Store, error) {
	s, pool, err := sqlstore.OpenPostgres(ctx, url)
	if err != nil {
		return nil, err
	}
	return &Store{s, pool}, nil
}

// Pool is the connection pool under the store, for PostgreSQL-only features
// (advisory locks, LISTEN/NOTIFY). The store keeps ownership: do not close it.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
