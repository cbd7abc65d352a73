// Package postgres implements store.Store on PostgreSQL (pgx, pgxpool): the database
// of production installations, shared by every server replica.
package postgres
