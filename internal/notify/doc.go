// Package notify is each user's notification channels (e-mail, or a webhook with a
// preset body), the versioned payload an alert's change becomes, and the delivery of
// one message over a channel. The outbox that makes delivery durable is in
// notify/outbox; the guarded HTTP client and the webhook bodies in notify/webhook.
package notify
