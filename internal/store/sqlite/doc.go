// Package sqlite implements store.Store on a single SQLite file (modernc.org/sqlite,
// pure Go), the default database of a one-server installation.
//
// Writes go through one connection and start with BEGIN IMMEDIATE, so they queue in
// the process instead of failing with SQLITE_BUSY; reads use a pool of read-only
// connections, which WAL mode lets run beside the writer.
package sqlite
