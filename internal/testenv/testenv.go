// Package testenv tells tests which real services (PostgreSQL, S3, SMTP) they may use,
// and makes a missing service a skip on a laptop but a failure in CI.
package testenv

import (
	"os"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true), where nothing may be skipped
// for want of a service.
func InCI() bool {
	v := os.Getenv("CI")
	return v == "true" || v == "1"
}

// Require stops the test when a service it needs is missing: a skip on a developer's
// machine, a failure in CI. reason says what is missing and how to provide it.
func Require(t testing.TB, ok bool, reason string) {
	t.Helper()
	if ok {
		return
	}
	if InCI() {
		t.Fatalf("required test service missing in CI: %s", reason)
	}
	t.Skipf("skipping: %s", reason)
}

// Env returns the value of the environment variable name, failing (CI) or skipping
// the test when it is empty. how says which command provides it.
func Env(t testing.TB, name, how string) string {
	t.Helper()
	v := os.Getenv(name)
	Require(t, v != "", name+" is not set ("+how+")")
	return v
}
