// Package audit writes the audit log: who did what to which object, from where. Every
// service that records an action (accounts, agents, configs, destinations, runs)
// writes through its one Writer.
package audit
