package agentapi

// LongPolls is how many of the agent's heartbeats wait on this server for a
// wake-up, so tests queue a run once a long poll waits instead of sleeping.
func (a *API) LongPolls(agentID string) int {
	a.wake.mu.Lock()
	defer a.wake.mu.Unlock()
	return len(a.wake.m[agentID])
}
