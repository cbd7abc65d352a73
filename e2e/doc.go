// Package e2e holds end-to-end tests that run the real binaries — `backapp serve` on
// PostgreSQL, `backapp-agent` daemons, the S3 test server — and talk to them only
// through their command lines, HTTP APIs and the storage they write.
package e2e
