// Package httpx holds the HTTP plumbing shared by the web pages and the JSON API:
// request ids, access logs, security headers, body limits, panic recovery, the
// client's address, and JSON encoding of responses and errors.
package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/store"
)

type ridKey struct{}

// RequestID returns the id of the request in ctx ("" outside a request).
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(ridKey{}).(string)
	return s
}

// ClientIP is the address the request came from (the TCP peer; forwarded headers are
// not trusted).
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines (for SSE later).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Log gives every request an id (X-Request-Id), recovers panics into a 500, and logs
// one line per request with method, path, status, bytes and duration.
func Log(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			b := make([]byte, 8)
			rand.Read(b)
			id := hex.EncodeToString(b)
			w.Header().Set("X-Request-Id", id)
			r = r.WithContext(context.WithValue(r.Context(), ridKey{}, id))
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					log.Error("panic in handler", "request_id", id, "panic", fmt.Sprint(p))
					if sw.status == 0 {
						http.Error(sw, "internal error; the server log has details (request "+id+")", http.StatusInternalServerError)
					}
				}
				level := slog.LevelInfo
				if sw.status >= 500 {
					level = slog.LevelError
				}
				log.LogAttrs(r.Context(), level, "request",
					slog.String("request_id", id),
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.Int("status", sw.status),
					slog.Int64("bytes", sw.bytes),
					slog.Duration("duration", time.Since(start)),
					slog.String("ip", ClientIP(r)),
				)
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

// CSP is the Content-Security-Policy of every response: no inline script or style,
// nothing from other origins, never framed.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"

// SecurityHeaders sets the headers every response carries. hsts adds
// Strict-Transport-Security (only when served over TLS).
func SecurityHeaders(hsts bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", CSP)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
			if hsts {
				h.Set("Strict-Transport-Security", "max-age=31536000")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// LimitBody caps request bodies at n bytes; reading past it fails with
// *http.MaxBytesError, which DecodeJSON and form parsing turn into 413.
func LimitBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				WriteError(w, r, nil, apperr.New(apperr.TooLarge, "request body is %d bytes; the limit is %d", r.ContentLength, n))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// WantsJSON reports whether the response to r should be JSON rather than HTML.
func WantsJSON(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || strings.Contains(r.Header.Get("Accept"), "application/json")
}

// ErrorBody is the one error shape of the JSON API.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes an error: a stable code, a message that says what to fix,
// and for invalid input the message per field.
type ErrorDetail struct {
	Code      string            `json:"code"`
	Message   string            `json:"message"`
	Fields    map[string]string `json:"fields,omitempty"`
	RequestID string            `json:"requestId,omitempty"`
}

// WriteError writes err as JSON with the status of its kind. Internal causes are
// logged (when log is not nil), never sent. An unclassified error that says the
// database is unreachable (store.Unavailable) is a 503, not a 500.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	e := apperr.From(err)
	if e.Kind == apperr.Internal && store.Unavailable(err) {
		// The database is down or restarting: a passing condition, worth retrying.
		e = apperr.Wrap(apperr.Unavailable, err, "the server's database is unreachable; try again shortly")
	}
	status := apperr.Status(e.Kind)
	if log != nil && (status >= 500 || e.Cause != nil) {
		log.Error("request failed", "request_id", RequestID(r.Context()), "path", r.URL.Path, "status", status, "err", err)
	}
	if e.Kind == apperr.RateLimited && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter/time.Second)))
	}
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: string(e.Kind), Message: e.Message, Fields: e.Fields, RequestID: RequestID(r.Context())}})
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// DecodeJSON reads the request body into dst. It requires Content-Type
// application/json, rejects unknown fields, trailing data and oversized bodies, and
// returns apperr errors that say what to fix.
func DecodeJSON(r *http.Request, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return apperr.New(apperr.Unsupported, "send the body as JSON with Content-Type: application/json")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return apperr.New(apperr.Invalid, "request body must contain a single JSON object")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		if err != nil {
			return jsonError(err)
		}
		return apperr.New(apperr.Invalid, "request body must contain a single JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return apperr.New(apperr.TooLarge, "request body is larger than the limit of %d bytes", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return apperr.New(apperr.Invalid, "request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.New(apperr.Invalid, "malformed JSON: the body ends too early")
	case errors.As(err, &syn):
		return apperr.New(apperr.Invalid, "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return apperr.Invalidf(typ.Field, "field %q must be a %s", typ.Field, jsonKind(typ.Type.Kind().String()))
		}
		return apperr.New(apperr.Invalid, "request body must be a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apperr.Invalidf(name, "unknown field %q", name)
	default:
		return apperr.Wrap(apperr.Invalid, err, "malformed JSON")
	}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean (true or false)"
	case "int", "int64", "int32", "float64", "uint", "uint64":
		return "number"
	case "slice":
		return "list"
	default:
		return "JSON object"
	}
}
