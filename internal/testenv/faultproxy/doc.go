// Package faultproxy is an HTTP reverse proxy for tests that injects faults between a
// client (the backup engine, an agent) and a real upstream (an S3-compatible server, the
// backapp server): S3-style error responses, connections reset in the middle of a
// request or response body, latency and a bandwidth cap, chosen per request by match
// functions and seeded random draws, and counted so tests can assert the faults happened.
//
// # Signatures and the Host header
//
// AWS Signature V4 (headers and pre-signed URLs alike) signs the Host header. A client
// whose endpoint is the proxy signs for the proxy's host:port, so by default the proxy
// forwards the Host header exactly as received and the upstream verifies the signature
// against the same value the client signed. Point the S3 client at [Proxy.URL], and
// pre-sign URLs against that endpoint too (for the backapp server, configure its S3
// endpoint as the proxy's URL, so the URLs it hands to agents route through the proxy).
//
// Rewriting Host to the upstream's address would break those signatures. It is only
// right when a request was signed for the upstream's address and then sent to the proxy
// (for example a pre-signed URL whose host a test swapped for the proxy's); set
// [Config.RewriteHost] for that case.
//
// The proxy adds no headers (no X-Forwarded-For), does not re-encode the query, and does
// not ask the upstream for compression, so what the upstream verifies is what the client
// sent.
package faultproxy
