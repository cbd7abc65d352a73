// Package outbox delivers the notification outbox: workers claim due messages with a
// lease (so a server killed mid-delivery has them retried after the lease, and two
// replicas never hold the same message), deliver them, and retry failures with
// exponential backoff and jitter for a day before giving up and raising the
// channel's own alert.
package outbox
