// Package agents is the server's management of agents for people: register one (its
// key is shown once, with the command that enrols it), list them with a status computed
// from their last heartbeat, rename, rotate the key, revoke, delete, and read their
// logs. Every action is checked against the signed-in user (another user's agent is
// "not found") and written to the audit log.
package agents
