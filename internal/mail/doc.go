// Package mail sends the e-mails the server writes to people (password resets, later
// alerts) over SMTP with github.com/wneessen/go-mail, and renders them from embedded
// text templates. Code that sends mail depends on the Sender interface only.
package mail
