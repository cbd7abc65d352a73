// Package apperr is backapp's small set of error kinds. Services return *Error values
// that carry a message safe to show the client and, separately, the cause for the log;
// the API and web layers map Kind to an HTTP status in one place (Status).
package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Kind classifies an error for the client.
type Kind string

// The kinds, and the codes the JSON API sends in {"error":{"code":…}}.
const (
	Invalid      Kind = "invalid"      // 400/422: bad input; Fields says which
	Unauthorized Kind = "unauthorized" // 401: not signed in, or wrong credentials
	Forbidden    Kind = "forbidden"    // 403
	NotFound     Kind = "not_found"    // 404
	Conflict     Kind = "conflict"     // 409
	TooLarge     Kind = "too_large"    // 413
	Unsupported  Kind = "unsupported"  // 415
	RateLimited  Kind = "rate_limited" // 429; RetryAfter set
	Unavailable  Kind = "unavailable"  // 503
	Internal     Kind = "internal"     // 500; message is generic, cause is logged
)

// Error is an error with a kind, a client-safe message and an optional cause.
type Error struct {
	Kind    Kind
	Message string            // safe for the client: says what to fix
	Fields  map[string]string // per-field messages for forms (field name → message)
	// RetryAfter is set for RateLimited.
	RetryAfter time.Duration
	Cause      error // for the log only
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Message + ": " + e.Cause.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// New returns an error of kind with a client message.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind with a client message and a cause for the log.
func Wrap(kind Kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Cause: cause}
}

// Invalidf returns an Invalid error for one field.
func Invalidf(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Kind: Invalid, Message: msg, Fields: map[string]string{field: msg}}
}

// Fields collects per-field validation problems so all of them are reported at once.
type Fields map[string]string

// Add records msg for field unless one is already recorded.
func (f Fields) Add(field, format string, args ...any) {
	if _, ok := f[field]; !ok {
		f[field] = fmt.Sprintf(format, args...)
	}
}

// Err returns nil when no problem was recorded, else an Invalid error listing them.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	msg := "please correct the highlighted fields"
	if len(f) == 1 {
		for _, m := range f {
			msg = m
		}
	}
	return &Error{Kind: Invalid, Message: msg, Fields: f}
}

// From returns e as an *Error; any other error becomes Internal with a generic message.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: Internal, Message: "internal error; the server log has details", Cause: err}
}

// KindOf returns the kind of err (Internal for plain errors, "" for nil).
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	return From(err).Kind
}

// Status maps a kind to its HTTP status.
func Status(k Kind) int {
	switch k {
	case Invalid:
		return http.StatusBadRequest
	case Unauthorized:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case NotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case Unsupported:
		return http.StatusUnsupportedMediaType
	case RateLimited:
		return http.StatusTooManyRequests
	case Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}
