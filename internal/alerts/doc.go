// Package alerts raises and resolves the alerts that make a failing backup impossible
// to miss: a failed run, a run with skipped files or errors, a late or missed
// scheduled run, no successful backup for longer than a configuration's threshold,
// an agent offline for more than five minutes, and, reported by the services that see
// them, a failing destination check, retention that could not delete and a checksum
// mismatch. There is one open alert per rule and subject (its count and last
// occurrence grow), and it resolves itself, saying why, when its cause is gone.
//
// The state rules are evaluated by Watch on the replica holding the scheduler's lead;
// raising is idempotent in the store (a unique index and the occurrence's ref), so a
// second replica, or a second pass, never doubles an alert.
package alerts
