package runs

import (
	"testing"

	"github.com/backapp/backapp/internal/store"
)

// TestRunsOn: agents run their own agent-mode configs; the server's built-in agent
// runs its owner's server-mode configs and nothing else.
func TestRunsOn(t *testing.T) {
	agent := store.Agent{ID: "a1", UserID: "u1"}
	builtin := store.Agent{ID: "b1", UserID: "u1", Builtin: true}
	for _, tc := range []struct {
		name string
		ag   store.Agent
		c    store.BackupConfig
		want bool
	}{
		{"agent, own agent-mode", agent, store.BackupConfig{UserID: "u1", AgentID: "a1", ExecutionMode: "agent"}, true},
		{"agent, another agent's", agent, store.BackupConfig{UserID: "u1", AgentID: "a2", ExecutionMode: "agent"}, false},
		{"agent, another user's", agent, store.BackupConfig{UserID: "u2", AgentID: "a1", ExecutionMode: "agent"}, false},
		{"agent, server-mode assigned to it", agent, store.BackupConfig{UserID: "u1", AgentID: "a1", ExecutionMode: "server"}, false},
		{"agent, server-mode without agent", agent, store.BackupConfig{UserID: "u1", ExecutionMode: "server"}, false},
		{"built-in, owner's server-mode", builtin, store.BackupConfig{UserID: "u1", ExecutionMode: "server"}, true},
		{"built-in, server-mode assigned to it", builtin, store.BackupConfig{UserID: "u1", AgentID: "b1", ExecutionMode: "server"}, true},
		{"built-in, another user's server-mode", builtin, store.BackupConfig{UserID: "u2", ExecutionMode: "server"}, false},
		{"built-in, server-mode of another agent", builtin, store.BackupConfig{UserID: "u1", AgentID: "a1", ExecutionMode: "server"}, false},
		{"built-in, agent-mode assigned to it", builtin, store.BackupConfig{UserID: "u1", AgentID: "b1", ExecutionMode: "agent"}, false},
	} {
		if got := RunsOn(tc.c, tc.ag); got != tc.want {
			t.Errorf("%s: RunsOn = %v, want %v", tc.name, got, tc.want)
		}
	}
}
