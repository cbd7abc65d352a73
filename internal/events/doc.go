// Package events carries what moves inside the server (run and restore progress and
// status, agents going online or offline, new alerts) to the browsers watching it:
// typed events owned by a user, a Broker that fans them out to bounded subscribers
// and keeps a ring of recent ones for Last-Event-ID resumes. pgevents carries them
// between replicas; docs/events.md describes the kinds and the stream.
package events
