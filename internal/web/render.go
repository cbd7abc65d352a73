package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/csrf"
	"github.com/backapp/backapp/internal/store"
)

//go:embed templates
var templateFS embed.FS

// page is what every template receives.
type page struct {
	Title   string
	Nav     string      // key of the active navigation item
	User    *store.User // the signed-in user; nil when signed out
	CSRF    string      // token for the csrf_token field of every form
	Flash   *flashMsg   // message left by the previous action
	Version string
	// Form, Values, Errors and Error describe a submitted form shown again: which
	// form (pages with several), the values to keep (never passwords), per-field
	// messages and the message for the form as a whole.
	Form   string
	Values map[string]string
	Errors map[string]string
	Error  string
	Data   any
	// Alerts is whether the alerts page exists; OpenAlerts the signed-in user's
	// open alerts, the count in the navigation.
	Alerts     bool
	OpenAlerts int
	// Notifications is whether the notification settings page exists.
	Notifications bool
}

// ErrorFor returns the message for the form form as a whole, if it was the one
// submitted.
func (p *page) ErrorFor(form string) string {
	if p.Form != form {
		return ""
	}
	return p.Error
}

// IsAdmin reports whether the signed-in user is an administrator.
func (p *page) IsAdmin() bool { return p.User != nil && p.User.IsAdmin() }

// parseTemplates parses layout.html and partials into a base set, then each page
// template into its own clone, so pages may all define "content".
func (h *Handler) parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"static": h.static.url,
		"join":   strings.Join,
		"sortArgs": func(s sortState, key, label, class string) sortArgs {
			return sortArgs{Sort: s, Key: key, Label: label, Class: class}
		},
		"field": newField,
		"ago":   h.ago,
		"date":  func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") },
		"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"count": groupDigits,
		"key":   keyParts,
		"bytes": humanBytes,
		"msdur": dayDuration,
		"used":  dayStorage,
		"selectArgs": func(name, label, anyLabel, value string, opts []filterOption, err string) selectArgs {
			return selectArgs{name, label, anyLabel, value, opts, err}
		},
		"estimateArgs": func(id string, e *estimateView, csrf, back string) estimateArgs {
			return estimateArgs{ID: id, Estimate: e, CSRF: csrf, Back: back}
		},
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(templateFS, n); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes the page tmpl with status. It renders into a buffer first so that a
// template error becomes a clean 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, tmpl string, p *page) {
	t, ok := h.pages[tmpl]
	if !ok {
		h.log.Error("render: no such template", "template", tmpl)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if sess, ok := auth.SessionFrom(r.Context()); ok && p.User == nil {
		u := sess.User
		p.User = &u
	}
	p.Notifications = h.notify != nil
	if p.User != nil && h.alerts != nil {
		p.Alerts = true
		n, err := h.alerts.OpenCount(r.Context(), *p.User)
		if err != nil {
			h.log.Warn("count open alerts for the navigation", "err", err) // the page is still worth showing
		}
		p.OpenAlerts = n
	}
	p.CSRF = csrf.Token(r)
	p.Version = h.version
	if p.Flash == nil {
		p.Flash = h.takeFlash(w, r)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		h.log.Error("render template", "template", tmpl, "err", err)
		http.Error(w, "internal error; the server log has details", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	// Pages carry personal data and CSRF tokens: no shared or back-button caching.
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// RenderError writes err as an HTML error page with the status its kind maps to
// (apperr.Status); internal errors are logged with their cause and shown with a
// generic message. The server uses it for CSRF rejections and unknown paths too.
func (h *Handler) RenderError(w http.ResponseWriter, r *http.Request, err error) {
	e := apperr.From(err)
	status := apperr.Status(e.Kind)
	if e.Kind == apperr.Internal || status >= 500 {
		h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if e.Kind == apperr.RateLimited && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	title := map[int]string{
		http.StatusBadRequest:            "The request was not understood",
		http.StatusUnauthorized:          "Sign in to continue",
		http.StatusForbidden:             "You cannot do this",
		http.StatusNotFound:              "Page not found",
		http.StatusConflict:              "This conflicts with existing data",
		http.StatusRequestEntityTooLarge: "The request is too large",
		http.StatusTooManyRequests:       "Too many attempts",
		http.StatusServiceUnavailable:    "Temporarily unavailable",
	}[status]
	if title == "" {
		title = "Something went wrong"
	}
	h.render(w, r, status, "error", &page{Title: title, Data: errorData{Status: status, Message: e.Message}})
}

// objectKey is a long storage key shown short, with the whole key on demand.
type objectKey struct {
	Full, Short string
}

// keyParts shortens an object key to its start and its end (the file name) when it
// is longer than fits a line of a card.
func keyParts(k string) objectKey {
	if len(k) <= 40 {
		return objectKey{Full: k}
	}
	return objectKey{Full: k, Short: k[:12] + "…" + k[len(k)-24:]}
}

type errorData struct {
	Status  int
	Message string
}

// NotFound renders the 404 page. The server can mount it for paths no route
// matches: mux.HandleFunc("/", pages.NotFound).
func (h *Handler) NotFound(w http.ResponseWriter, r *http.Request) {
	h.notFound(w, r)
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.RenderError(w, r, apperr.New(apperr.NotFound, "there is no page at %s; check the address or use the navigation", r.URL.Path))
}

// formError shows the form page tmpl again with err: per-field messages beside the
// fields, the overall message above the form, the status from err's kind. Internal
// errors get the error page instead, since the form cannot help.
func (h *Handler) formError(w http.ResponseWriter, r *http.Request, tmpl string, p *page, err error) {
	e := apperr.From(err)
	if e.Kind == apperr.Internal {
		h.RenderError(w, r, err)
		return
	}
	if e.Kind == apperr.RateLimited && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	if e.Kind == apperr.Unavailable {
		h.log.Warn("form action unavailable", "path", r.URL.Path, "err", err)
	}
	p.Errors = e.Fields
	p.Error = e.Message
	h.render(w, r, apperr.Status(e.Kind), tmpl, p)
}

// field is what the "field" partial renders: one labelled input with its help text
// and error.
type field struct {
	ID, Name, Label, Type, Autocomplete, Help, Value, Error string
}

// newField builds a field of the form named form on p. Values are kept across a
// failed submission, except passwords, which are never sent back.
func newField(p *page, form, name, label, typ, autocomplete, help string) field {
	f := field{ID: form + "-" + name, Name: name, Label: label, Type: typ, Autocomplete: autocomplete, Help: help}
	if typ != "password" {
		f.Value = p.Values[name]
	}
	if p.Form == form {
		f.Error = p.Errors[name]
	}
	return f
}

// Describe is the aria-describedby list: help text and error.
func (f field) Describe() string {
	var ids []string
	if f.Help != "" {
		ids = append(ids, f.ID+"-help")
	}
	if f.Error != "" {
		ids = append(ids, f.ID+"-error")
	}
	return strings.Join(ids, " ")
}

// ago renders t as relative text ("12 min ago").
func (h *Handler) ago(t time.Time) string {
	d := h.now().Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	case d < 60*24*time.Hour:
		return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
	}
	return t.UTC().Format("2 Jan 2006")
}
