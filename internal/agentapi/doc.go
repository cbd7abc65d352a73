// Package agentapi is the server side of the agent protocol (/api/agent/…, wire types in
// agentproto): key authentication, heartbeats with work, configs, backup runs whose
// archives the agent uploads straight to the destination through pre-signed part URLs
// for its own keys only, completion checks, the catalog, logs, restore downloads, and the
// reaper that fails runs whose agent stopped reporting.
package agentapi
