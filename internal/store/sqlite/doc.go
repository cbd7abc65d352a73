// Package sqlite opens the store on a single SQLite file (modernc.org/sqlite, pure
// Go), the default database of a one-server installation. The implementation, shared
// with PostgreSQL, is sqlstore's.
package sqlite
