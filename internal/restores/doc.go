// Package restores starts, lists and cancels restores of a user's backups onto one of
// their agents, browses a run's files from the server's catalog copy of its manifest,
// and streams single files of unencrypted runs to the browser.
package restores
