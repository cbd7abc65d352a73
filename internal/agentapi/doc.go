// Package agentapi is the HTTP adapter of the agent protocol (/api/agent/…, wire types
// in agentproto): it authenticates agent keys, decodes requests, calls the run
// lifecycle (internal/runs.Lifecycle: opening, uploading, completing, resuming and
// reaping backup runs, the catalog and restore downloads) and encodes its answers. It
// also serves heartbeats with their work, logs, and restore and estimate reports.
package agentapi
