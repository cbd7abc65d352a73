// Package agent is the machine side of backapp: an HTTPS client of the server's agent
// API (internal/agentproto), the daemon that heartbeats, takes commands and runs backups
// and restores with internal/engine, and the small local state (settings, the previous
// manifest of each configuration) an agent keeps between runs.
//
// The agent never holds storage credentials: it uploads and downloads through the
// pre-signed URLs the server hands out, one object key at a time.
package agent
