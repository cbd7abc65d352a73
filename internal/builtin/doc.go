// Package builtin runs server-mode backups: the real agent (internal/agent) inside the
// server process, talking to the server's own agent API through an in-memory
// http.RoundTripper, so server mode has the same engine, protocol and archive format
// as any agent. Its guard keeps those backups, and restores, inside the directories an
// administrator allowed, and lets only administrators' configurations run.
package builtin
