package sqlite

import (
	"context"

	"github.com/backapp/backapp/internal/store/sqlstore"
)

// Store is the store on a SQLite file. It is safe for concurrent use.
type Store struct{ *sqlstore.Store }

// Open opens (creating when missing) the database file at path, creating its parent
// directory, and applies pending migrations. The file is created readable by its
// owner only: it holds password hashes. Close the store when done.
func Open(ctx context.Context, path string) (*Store, error) {
	s, err := sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		return nil, err
	}
	return &Store{s}, nil
}
