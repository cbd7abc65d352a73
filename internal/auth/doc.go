// Package auth provides user accounts: registration, passwords, server-side sessions,
// password reset by e-mail, login rate limits, roles and the audit trail of all of it.
// The web and JSON layers call Service; neither touches passwords or tokens directly.
package auth
