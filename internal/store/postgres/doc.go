// Package postgres opens the store on PostgreSQL (pgx): the database of production
// installations, shared by every server replica. The implementation, shared with
// SQLite, is sqlstore's.
package postgres
