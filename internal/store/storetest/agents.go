package storetest

// agentTests test store.Agents.
var agentTests = []test{}
