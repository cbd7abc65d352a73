// Package sqlstore implements store.Store once for both databases, SQLite
// (modernc.org/sqlite through database/sql) and PostgreSQL (pgx's pool).
//
// Layout:
//
//   - accounts.go, sessions.go, audit.go, settings.go, agents.go, agentlogs.go,
//     configs.go, runs.go, restores.go, destinations.go, alerts.go, estimates.go,
//     builtin.go, metrics.go: the store's methods by domain, in files named as the
//     interfaces in store/ that declare them. Each statement is written once, with ?
//     placeholders.
//   - store.go: the Store, and conn, the four calls every statement goes through
//     (exec, query, queryRow, begin), on database/sql for SQLite and on pgx's own
//     interface for PostgreSQL (postgres.go), which costs fewer allocations per
//     statement than pgx's database/sql adapter.
//   - dialect.go: what differs, in one struct: placeholders (rebound to $n for
//     PostgreSQL), time encoding (Store.t: text on SQLite, timestamptz on PostgreSQL),
//     the first-user lock, and the migrations each database sees.
//   - sqlite.go, postgres.go: opening each database (SQLite's pragmas, single writer
//     and read-only pool; PostgreSQL's pool, migration lock and advisory lock keys) and
//     their error codes. PostgreSQL-only features go in postgres.go.
//   - columns.go: scanning and argument helpers shared by all (times, JSON, NULLs, ids).
//   - migrations/: goose files. migrations/*.sql serve both databases, with column
//     types written {{uuid}}, {{text}}, {{bool}}, {{int}}, {{time}}, {{json}},
//     {{bytes}} and {{strict}} after CREATE TABLE; migrations/sqlite and
//     migrations/postgres hold what must differ (and versions 1–7, written before
//     the two were one). A version number is used once across the three folders.
//
// SQL both databases accept: true/false literals and bare boolean columns
// (SQLite ≥ 3.23 reads them as 1/0), CAST(uuid_column AS TEXT) where a uuid is
// compared with or coalesced to text, ON CONFLICT … DO UPDATE, RETURNING (of the
// updated table's columns only), no ::casts, no = ANY(array).
//
// To add a store method: add it to the interface in store/, write it once here in
// the domain's file (s.exec, s.query, s.queryRow, s.writeQuery, s.begin; times
// through s.t and s.tp, scanned with timeCol and nullTimeCol; ids checked with
// s.validID, which on PostgreSQL turns a non-UUID into ErrNotFound as SQLite finds
// no row for it), and test it in storetest.
// To add a migration: one shared file migrations/NNNNN_name.sql when the SQL is the
// same with the type names filled in, else one file of that version in each dialect's
// folder. Never edit an applied migration (upgrade_test.go checks 1–7).
package sqlstore
