package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/backapp/backapp/internal/apperr"
)

// Password rules.
const (
	MinPasswordLen = 12   // characters
	MaxPasswordLen = 1024 // bytes; bounds the hashing work an attacker can ask for
	MaxNameLen     = 100
	MaxEmailLen    = 254
)

// hashPassword hashes with bcrypt. The password is first reduced with SHA-256 so that
// bcrypt's 72-byte limit never silently truncates a long passphrase.
func hashPassword(password string, cost int) (string, error) {
	h, err := bcrypt.GenerateFromPassword(prehash(password), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// checkPassword reports whether password matches hash.
func checkPassword(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), prehash(password)) == nil
}

func prehash(password string) []byte {
	sum := sha256.Sum256([]byte(password))
	return []byte(base64.StdEncoding.EncodeToString(sum[:]))
}

// NormalizeEmail trims and lower-cases an address.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// validateEmail returns a message saying what is wrong with email, or "".
func validateEmail(email string) string {
	switch {
	case email == "":
		return "e-mail is required"
	case len(email) > MaxEmailLen:
		return fmt.Sprintf("e-mail must be at most %d characters", MaxEmailLen)
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") {
		return "enter a valid e-mail address, like name@example.com"
	}
	return ""
}

// validatePassword returns a message saying what is wrong with password, or "".
func validatePassword(password, email string) string {
	switch {
	case password == "":
		return "password is required"
	case len(password) > MaxPasswordLen:
		return fmt.Sprintf("password must be at most %d bytes", MaxPasswordLen)
	case !utf8.ValidString(password):
		return "password must be valid UTF-8 text"
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return fmt.Sprintf("password must be at least %d characters", MinPasswordLen)
	case email != "" && strings.EqualFold(strings.TrimSpace(password), email):
		return "password must not be your e-mail address"
	}
	return ""
}

// validateName returns a message saying what is wrong with name, or "".
func validateName(name string) string {
	switch {
	case name == "":
		return "name is required"
	case utf8.RuneCountInString(name) > MaxNameLen:
		return fmt.Sprintf("name must be at most %d characters", MaxNameLen)
	case !utf8.ValidString(name) || strings.ContainsAny(name, "\x00\r\n"):
		return "name must be a single line of text"
	}
	return ""
}

var errBadCredentials = apperr.New(apperr.Unauthorized, "wrong e-mail or password")
