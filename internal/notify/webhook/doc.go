// Package webhook holds what delivering webhooks needs to treat their targets as the
// attacker-controlled input they are: an HTTP client that refuses loopback, private,
// link-local, shared and metadata addresses, checked on the resolved IP at connect
// time (so DNS rebinding does not get through), unless an administrator allowed the
// host or network (--webhook-allow); with time limits, no redirects, no proxies from
// the environment and a capped body read.
package webhook
