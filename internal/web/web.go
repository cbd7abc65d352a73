package web

import (
	"context"
	"errors"
	"fmt"
	"github.com/backapp/backapp/internal/agentdist"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/agents"
	"github.com/backapp/backapp/internal/alerts"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/csrf"
	"github.com/backapp/backapp/internal/destinations"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/notify"
	"github.com/backapp/backapp/internal/report"
	"github.com/backapp/backapp/internal/restores"
	"github.com/backapp/backapp/internal/runs"
	"github.com/backapp/backapp/internal/stats"
)

// Store is all the pages read from the database themselves: whether any account
// exists yet, so that the first visit offers to create the administrator. Everything
// else comes from the services, which hold the ownership rules.
type Store interface {
	CountUsers(ctx context.Context) (int, error)
}

// Config configures the web handlers.
type Config struct {
	Auth   *auth.Service // required
	Store  Store         // required
	Logger *slog.Logger  // slog.Default() when nil
	// Secure marks cookies Secure; set it when the server is reached over TLS.
	Secure bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Version is shown in the page footer.
	Version string
	// Agents serves the agent pages (/agents…); nil leaves them out.
	Agents *agents.Service
	// Destinations serves the storage settings page (/settings/storage); nil leaves it out.
	Destinations *destinations.Service
	// Runs serves the backup history pages (/backups…); nil leaves them out.
	Runs *runs.Service
	// Configs serves the configuration pages (/configs…); nil leaves them out.
	Configs *configs.Service
	// AgentDist serves the agent's binaries; the key page offers its one-line install
	// when it has them (nil: it never does).
	AgentDist *agentdist.Dist
	// Restores serves the restore pages (/restores…); nil leaves them out.
	Restores *restores.Service
	// Alerts serves /alerts and the open count in the navigation; nil leaves them out.
	Alerts *alerts.Service
	// Metrics serves the dashboard's numbers and charts; nil leaves them out.
	Metrics *stats.Service
	// Reports serves /reports; nil leaves it out.
	Reports *report.Service
	// Notify serves /settings/notifications; nil leaves it out.
	Notify *notify.Service
}

// Handler serves the HTML pages. Create it with New and mount it with Register.
type Handler struct {
	auth     *auth.Service
	store    Store
	log      *slog.Logger
	secure   bool
	now      func() time.Time
	keys     keyStash // new agent keys between a form's POST and the key's page
	version  string
	agents   *agents.Service
	dests    *destinations.Service
	runs     *runs.Service
	configs  *configs.Service
	restores *restores.Service
	alerts   *alerts.Service
	dist     *agentdist.Dist
	metrics  *stats.Service
	reports  *report.Service
	notify   *notify.Service

	static *staticFiles
	pages  map[string]*template.Template
}

// New parses the embedded templates and checksums the static files.
func New(cfg Config) (*Handler, error) {
	if cfg.Auth == nil {
		return nil, errors.New("web: Auth is required")
	}
	if cfg.Store == nil {
		return nil, errors.New("web: Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	st, err := loadStatic()
	if err != nil {
		return nil, fmt.Errorf("web: load static files: %w", err)
	}
	h := &Handler{
		auth:     cfg.Auth,
		store:    cfg.Store,
		log:      cfg.Logger,
		secure:   cfg.Secure,
		now:      cfg.Now,
		version:  cfg.Version,
		agents:   cfg.Agents,
		dests:    cfg.Destinations,
		runs:     cfg.Runs,
		configs:  cfg.Configs,
		restores: cfg.Restores,
		alerts:   cfg.Alerts,
		dist:     cfg.AgentDist,
		metrics:  cfg.Metrics,
		reports:  cfg.Reports,
		notify:   cfg.Notify,
		static:   st,
	}
	if h.pages, err = h.parseTemplates(); err != nil {
		return nil, fmt.Errorf("web: parse templates: %w", err)
	}
	return h, nil
}

// Protect wraps next (the mux holding these pages, see Register, and the JSON API)
// in the chain the pages rely on: the session middleware outside, so handlers find
// the session, then CSRF protection, so every form and API write is checked. A
// refused request gets an HTML error page, or a JSON error when it asked for JSON.
// exempt (nil for none) names requests that carry no cookies to forge.
func (h *Handler) Protect(next http.Handler, exempt func(*http.Request) bool) http.Handler {
	p := &csrf.Protector{
		Secure: h.secure,
		Exempt: exempt,
		Fail: func(w http.ResponseWriter, r *http.Request, err error) {
			if httpx.WantsJSON(r) {
				httpx.WriteError(w, r, h.log, err)
				return
			}
			h.RenderError(w, r, err)
		},
	}
	return h.auth.Middleware(h.secure)(p.Handler(next))
}

// Register mounts the pages and static files on mux; serve mux through Protect.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /static/{sum}/{name}", h.staticServe)

	mux.HandleFunc("GET /{$}", h.rootShow)
	mux.HandleFunc("GET /login", h.loginShow)
	mux.HandleFunc("POST /login", h.loginSubmit)
	mux.HandleFunc("GET /register", h.registerShow)
	mux.HandleFunc("POST /register", h.registerSubmit)
	mux.HandleFunc("POST /logout", h.logoutSubmit)
	mux.HandleFunc("GET /forgot-password", h.passwordForgotShow)
	mux.HandleFunc("POST /forgot-password", h.passwordForgotSubmit)
	mux.HandleFunc("GET /reset-password", h.passwordResetShow)
	mux.HandleFunc("POST /reset-password", h.passwordResetSubmit)

	mux.HandleFunc("GET /dashboard", h.signedIn(h.dashboardShow))
	mux.HandleFunc("GET /settings/profile", h.signedIn(h.profileShow))
	mux.HandleFunc("POST /settings/profile", h.signedIn(h.profileUpdate))
	mux.HandleFunc("POST /settings/password", h.signedIn(h.passwordChange))

	mux.HandleFunc("GET /users", h.signedIn(h.usersList))
	mux.HandleFunc("POST /users/{id}/role", h.signedIn(h.userRoleUpdate))
	mux.HandleFunc("POST /users/{id}/disable", h.signedIn(h.userDisable))
	mux.HandleFunc("POST /users/{id}/enable", h.signedIn(h.userEnable))
	mux.HandleFunc("GET /users/{id}/delete", h.signedIn(h.userDeleteConfirm))
	mux.HandleFunc("POST /users/{id}/delete", h.signedIn(h.userDelete))
	mux.HandleFunc("POST /settings/registration", h.signedIn(h.registrationUpdate))
	h.registerAgents(mux)
	h.registerStorage(mux)
	h.registerBackups(mux)
	h.registerConfigs(mux)
	h.registerRestores(mux)
	h.registerServerSettings(mux)
	h.registerAlerts(mux)
	h.registerReports(mux)
	h.registerNotifications(mux)
}

// signedIn lets only signed-in users through; others are sent to the login page,
// which brings them back afterwards.
func (h *Handler) signedIn(next func(http.ResponseWriter, *http.Request, auth.Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, ok := auth.SessionFrom(r.Context())
		if !ok {
			target := "/login"
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				target += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		next(w, r, sess)
	}
}

// meta describes the request for the audit log and rate limits.
func meta(r *http.Request) auth.Meta {
	ip := r.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	return auth.Meta{IP: ip, UserAgent: r.UserAgent()}
}

// safeNext returns next when it is a path on this site, else "/dashboard": the login
// page must never redirect elsewhere (an open redirect helps phishing).
func safeNext(next string) string {
	const def = "/dashboard"
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return def
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return def
	}
	if strings.HasPrefix(u.Path, "/static/") || u.Path == "/login" || u.Path == "/logout" {
		return def
	}
	return next
}

// seeOther redirects after a successful POST so a reload does not submit again.
func seeOther(w http.ResponseWriter, r *http.Request, target string) {
	http.Redirect(w, r, target, http.StatusSeeOther)
}
