// Package server assembles the backapp server from its parts (store, accounts, web
// pages, JSON API) and runs it: listening, TLS, background jobs and graceful shutdown.
// cmd/backapp and the end-to-end tests both start the server through it.
//
// Its tests are the in-process integration tests: each starts the assembled server
// (on SQLite and on PostgreSQL) and drives it over HTTP as a browser, the JSON API's
// clients and the agents do, so they cover how the parts work together (accounts,
// agents, configurations, runs, the scheduler, retention, restores, live events,
// several replicas) rather than one package alone. The JSON API's own behaviour is
// tested beside package api, through the same harness (package servertest).
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/backapp/backapp/internal/agentdist"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/backapp/backapp/internal/agentapi"
	"github.com/backapp/backapp/internal/agents"
	"github.com/backapp/backapp/internal/alerts"
	"github.com/backapp/backapp/internal/api"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/builtin"
	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/destinations"
	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/events/pgevents"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/mail"
	"github.com/backapp/backapp/internal/metrics"
	"github.com/backapp/backapp/internal/notify"
	"github.com/backapp/backapp/internal/notify/outbox"
	"github.com/backapp/backapp/internal/notify/webhook"
	"github.com/backapp/backapp/internal/report"
	"github.com/backapp/backapp/internal/restores"
	"github.com/backapp/backapp/internal/runs"
	"github.com/backapp/backapp/internal/scheduler"
	"github.com/backapp/backapp/internal/secrets"
	"github.com/backapp/backapp/internal/stats"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/postgres"
	"github.com/backapp/backapp/internal/store/sqlite"
	"github.com/backapp/backapp/internal/version"
	"github.com/backapp/backapp/internal/web"
	"golang.org/x/sync/errgroup"
)

// Options are the parts tests replace; the zero value is production.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// PasswordCost lowers bcrypt's cost in tests (0: the default).
	PasswordCost int
	// Mailer replaces the SMTP sender built from the config.
	Mailer auth.ResetMailer
	// SchedulerAfter replaces time.After in the scheduler's loop (a fake clock's).
	SchedulerAfter func(time.Duration) <-chan time.Time
	// RetentionEvery is how often retention runs on the leader (0: the
	// configuration's --retention-every, or hourly when that is unset too).
	RetentionEvery time.Duration
	// EventStream tunes GET /api/events (heartbeat, session checks); its Broker is
	// the server's.
	EventStream api.EventsConfig
	// OfflineEvery is how often the leader looks for agents gone offline (15 s).
	OfflineEvery time.Duration
	// AlertsEvery is how often the leader evaluates the alert rules besides when
	// runs and agents change (30 s).
	AlertsEvery time.Duration
	// OutboxTune changes the notification worker's settings (backoff, lease,
	// batch, Every) before Serve runs it.
	OutboxTune func(*outbox.Worker)
}

// App is a configured server.
type App struct {
	cfg   *config.Config
	log   *slog.Logger
	Store store.Store
	Keys  *secrets.Keys
	Auth  *auth.Service
	// Destinations manages storage destinations; Resolve gives the engine its storage.
	Destinations *destinations.Service
	// AgentAPI serves /api/agent/… and owns the reaper of runs whose agent went silent.
	AgentAPI *agentapi.API
	// Stats computes the dashboard's numbers, storage usage and its daily history
	// (GET /api/metrics, /dashboard); prometheus is GET /metrics.
	Stats *stats.Service
	// Restores starts restores on agents, browses backups' catalogs and streams single files.
	Restores *restores.Service
	// Builtin runs server-mode configurations with the real agent inside this process.
	Builtin *builtin.Supervisor
	// Runs queues, cancels and lists runs and executes retention; Scheduler queues
	// scheduled runs (Serve runs both on the replica holding schedLeader).
	Runs      *runs.Service
	Scheduler *scheduler.Scheduler
	// Alerts raises, resolves and lists alerts; alertWatch evaluates its rules on the
	// leader (Alerts.Evaluate is one pass, for tests).
	Alerts     *alerts.Service
	alertWatch *alerts.Watch
	// prometheus serves GET /metrics, Prometheus's (only when --metrics-token is set).
	prometheus *metrics.Metrics
	// Notify manages users' notification channels; Outbox delivers the messages
	// alerts enqueue (Serve runs it on every replica: claims keep them apart).
	Notify    *notify.Service
	Outbox    *outbox.Worker
	summaries *notify.Summaries
	// Events fans out what moves (GET /api/events); Bus publishes to it on every
	// replica and wakes agents' long polls everywhere.
	Events         *events.Broker
	Bus            events.Bus
	closeBus       func()
	wakeAPI        atomic.Pointer[agentapi.API]
	offline        *agents.OfflineWatch
	schedLeader    scheduler.Leader
	retentionEvery time.Duration
	handler        http.Handler
	now            func() time.Time // Options.Now
}

// OpenStore opens the database the configuration names: PostgreSQL when
// DATABASE_URL is set, else SQLite in the data directory. Migrations are applied.
func OpenStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		st, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL (DATABASE_URL): %w", err)
		}
		return st, nil
	}
	st, err := sqlite.Open(ctx, cfg.SQLitePath())
	if err != nil {
		return nil, fmt.Errorf("open SQLite database %s: %w", cfg.SQLitePath(), err)
	}
	return st, nil
}

// Open builds the server from a validated configuration.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger, opt Options) (*App, error) {
	keys, err := secrets.Load(cfg.DataDir, cfg.MasterKey)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, Store: st, Keys: keys, now: opt.Now}
	if a.now == nil {
		a.now = time.Now
	}
	if err := a.build(ctx, opt); err != nil {
		if a.closeBus != nil {
			a.closeBus()
		}
		st.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) build(ctx context.Context, opt Options) error {
	cfg := a.cfg
	mailer := opt.Mailer
	if mailer == nil {
		m, err := newMailer(cfg)
		if err != nil {
			return err
		}
		mailer = m
	}
	svc, err := auth.NewService(auth.Config{
		Store:        a.Store,
		Mailer:       mailer,
		Logger:       a.log,
		BaseURL:      cfg.BaseURL,
		Now:          opt.Now,
		PasswordCost: opt.PasswordCost,
		SessionIdle:  cfg.SessionIdle,
		SessionMax:   cfg.SessionMax,
	})
	if err != nil {
		return err
	}
	a.Auth = svc
	secure := cfg.Secure()
	dests, err := destinations.New(ctx, destinations.Config{
		Store: a.Store, Keys: a.Keys, Logger: a.log, Now: opt.Now,
		LocalDir: filepath.Join(cfg.DataDir, "storage"), LocalBaseURL: cfg.BaseURL + localStoragePath,
	})
	if err != nil {
		return fmt.Errorf("storage destinations: %w", err)
	}
	a.Destinations = dests
	if err := a.buildEvents(ctx); err != nil {
		return err
	}
	a.Restores, err = restores.New(restores.Config{Store: a.Store, Destinations: dests, Keys: a.Keys,
		Notify: a.Bus.Wake, Events: a.Bus, Logger: a.log, Now: opt.Now})
	if err != nil {
		return fmt.Errorf("restores: %w", err)
	}
	a.AgentAPI, err = agentapi.New(agentapi.Config{Store: a.Store, Destinations: dests, Keys: a.Keys, Logger: a.log, Now: opt.Now,
		StaleAfter: cfg.RunStaleAfter, Events: a.Bus, RestoreIdentity: a.Restores.Identity})
	if err != nil {
		return fmt.Errorf("agent API: %w", err)
	}
	a.wakeAPI.Store(a.AgentAPI)
	a.Alerts, err = alerts.New(alerts.Config{Store: a.Store, Events: a.Bus, Logger: a.log, Now: opt.Now,
		Notice: notify.Noticer{BaseURL: cfg.BaseURL}})
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	if err := a.buildNotify(opt); err != nil {
		return err
	}
	dests.ReportChecks(a.Alerts)
	if err := a.buildRuns(opt); err != nil {
		return err
	}
	a.summaries.Leader = a.schedLeader
	a.alertWatch = &alerts.Watch{Service: a.Alerts, Leader: a.schedLeader, Events: a.Events, Every: opt.AlertsEvery}
	// Only the replica that schedules runs the built-in agents (server mode).
	a.Builtin, err = builtin.New(builtin.Config{Store: a.Store, AgentAPI: a.AgentAPI, Notify: a.Bus.Wake,
		LocalPrefix: cfg.BaseURL + localStoragePath, Local: dests.LocalHandler(),
		StateDir: filepath.Join(cfg.DataDir, "builtin-agent"), Protected: []string{cfg.DataDir},
		Logger: a.log, Now: opt.Now, Leader: a.schedLeader})
	if err != nil {
		return fmt.Errorf("built-in agent: %w", err)
	}

	agentSvc, err := agents.New(agents.Config{Store: a.Store, BaseURL: cfg.BaseURL, Logger: a.log, Now: opt.Now})
	if err != nil {
		return fmt.Errorf("agent management: %w", err)
	}
	configSvc, err := configs.New(configs.ServiceConfig{Store: a.Store, Logger: a.log, Now: opt.Now, Keys: a.Keys,
		Notify: a.Bus.Wake})
	if err != nil {
		return fmt.Errorf("backup configurations: %w", err)
	}
	dist := agentdist.New(agentdist.Dir(cfg.AgentsDir), cfg.BaseURL)
	a.Stats = stats.New(a.Store, opt.Now)
	reportSvc := report.New(a.Store, opt.Now)
	pages, err := web.New(web.Config{AgentDist: dist, Metrics: a.Stats, Reports: reportSvc, Auth: svc, Store: a.Store, Logger: a.log, Secure: secure, Now: opt.Now, Version: version.String(), Agents: agentSvc, Destinations: dests, Runs: a.Runs, Configs: configSvc, Restores: a.Restores, Alerts: a.Alerts, Notify: a.Notify})
	if err != nil {
		return fmt.Errorf("web pages: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.ready)
	jsonAPI := api.New(api.Config{Auth: svc, Logger: a.log, Secure: secure})
	jsonAPI.Register(mux)
	api.NewAgents(agentSvc, a.log).Register(mux)
	jsonAPI.RegisterBackups(mux, a.Runs)
	api.NewConfigs(configSvc, a.log).Register(mux)
	jsonAPI.RegisterDestinations(mux, dests)
	jsonAPI.RegisterRestores(mux, a.Restores)
	jsonAPI.RegisterAlerts(mux, a.Alerts)
	a.prometheus = metrics.New(a.Store, agents.OfflineAfter, opt.Now)
	a.Outbox.Observe = a.prometheus
	jsonAPI.RegisterNotifications(mux, a.Notify)
	if cfg.MetricsToken != "" {
		mux.Handle("GET /metrics", a.prometheus.Handler(cfg.MetricsToken))
	}
	jsonAPI.RegisterMetrics(mux, a.Stats)
	jsonAPI.RegisterReports(mux, reportSvc)
	stream := opt.EventStream
	stream.Broker = a.Events
	jsonAPI.RegisterEvents(mux, stream)
	a.offline = &agents.OfflineWatch{Store: a.Store, Events: a.Bus, Leader: a.schedLeader, Now: opt.Now, Every: opt.OfflineEvery}
	dist.Register(mux)
	pages.Register(mux)
	mux.HandleFunc("/", pages.NotFound)

	h := pages.Protect(mux, func(r *http.Request) bool {
		// Bearer-key and signed-URL endpoints carry no cookies to forge.
		// Health checks and static files need no anonymous-token cookie either.
		p := r.URL.Path
		return strings.HasPrefix(p, "/api/agent/") || strings.HasPrefix(p, "/storage/") ||
			strings.HasPrefix(p, "/static/") || p == "/healthz" || p == "/readyz" || p == "/metrics"
	})
	h = httpx.LimitBody(cfg.MaxBodyBytes)(h)
	h = storageRoutes(dests.LocalHandler(), h)
	// Agents authenticate by key, carry no cookies, and the agent API sets its own body
	// limits (a completion lists up to 10,000 parts; a catalog is megabytes).
	h = prefixRoute("/api/agent/", a.AgentAPI, h)
	h = httpx.SecurityHeaders(cfg.TLS())(h)
	h = httpx.Log(a.log)(h)
	trusted, _ := httpx.ParsePrefixes(cfg.TrustedProxies) // checked by cfg.Validate
	h = httpx.RealIP(trusted)(h)
	a.handler = h
	return nil
}

// buildNotify makes the channels' service and the outbox worker: e-mail through the
// SMTP settings, webhooks through the guard that --webhook-allow opens.
func (a *App) buildNotify(opt Options) error {
	guard, err := webhook.ParseAllow(a.cfg.WebhookAllow)
	if err != nil {
		return err
	}
	ms, err := newMailSender(a.cfg)
	if err != nil {
		return err
	}
	disp := &notify.Dispatcher{Mail: ms, Client: guard.Client(), Now: opt.Now, Keys: a.Keys}
	_, noMail := ms.(mail.Disabled)
	a.Notify, err = notify.New(notify.Config{Store: a.Store, Keys: a.Keys, Sender: disp, Logger: a.log, Now: opt.Now,
		BaseURL: a.cfg.BaseURL, NoMail: noMail})
	if err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	a.Outbox = &outbox.Worker{Store: a.Store, Sender: disp, Alerts: a.Alerts, Logger: a.log, Now: opt.Now, Lease: a.cfg.NotifyLease,
		Retention: a.cfg.NotifyRetention}
	if opt.OutboxTune != nil {
		opt.OutboxTune(a.Outbox)
	}
	a.summaries = &notify.Summaries{Store: a.Store, Logger: a.log, Now: opt.Now, BaseURL: a.cfg.BaseURL}
	return nil
}

// localStoragePath is where the built-in local destination's signed URLs are served.
const localStoragePath = "/storage/local/"

// prefixRoute sends requests under prefix to h, others to next.
func prefixRoute(prefix string, h, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, prefix) {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// storageRoutes sends the built-in local destination's signed URLs straight to it,
// past sessions, CSRF and the body limit: they carry their own authorisation (an
// HMAC over method, key and expiry) and archive parts far larger than API bodies.
func storageRoutes(local, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, localStoragePath) {
			local.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.Store.Ping(ctx); err != nil {
		a.log.Error("readiness: database unreachable", "err", err)
		httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready", "database": a.Store.Dialect()})
}

// Handler is the server's HTTP handler with all middleware.
func (a *App) Handler() http.Handler { return a.handler }

// Serve serves on ln until ctx is cancelled, then shuts down gracefully: it stops
// accepting, lets requests in flight finish (up to 20 s), waits for the background
// loops to stop and returns.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if a.cfg.TLS() {
		cert, err := tls.LoadX509KeyPair(a.cfg.TLSCert, a.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("load TLS certificate (--tls-cert, --tls-key): %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	// Event streams never go idle: end them when shutting down, or Shutdown waits.
	srv.RegisterOnShutdown(a.Events.Close)
	// The background loops stop with ctx and Serve waits for them all, so none is
	// still using the store when Close closes it: the scheduler gives up its lead,
	// the built-in agent reports its runs, retention and the reaper finish their pass.
	jobs, stopJobs := context.WithCancel(ctx)
	var loops errgroup.Group
	defer func() {
		stopJobs()
		if err := loops.Wait(); err != nil {
			a.log.Error("background loop", "err", err)
		}
	}()
	loops.Go(func() error { a.sweep(jobs); return nil })
	loops.Go(func() error { a.offline.Run(jobs); return nil })
	loops.Go(func() error { a.alertWatch.Run(jobs); return nil })
	loops.Go(func() error { a.Outbox.Run(jobs); return nil })
	loops.Go(func() error { a.summaries.Run(jobs); return nil })
	loops.Go(func() error { a.prometheus.Run(jobs, a.Events); return nil })
	loops.Go(func() error { a.Stats.RecordHistory(jobs, a.schedLeader, a.log); return nil })
	// Check a few times per stale period, so a dead agent's run fails soon after it.
	loops.Go(func() error {
		a.AgentAPI.Runs().RunReaper(jobs, min(time.Minute, max(time.Second, a.cfg.RunStaleAfter/4)))
		return nil
	})
	loops.Go(func() error { return a.Scheduler.Run(jobs) })
	loops.Go(func() error { return a.Builtin.Run(jobs) })
	loops.Go(func() error { a.Runs.RunRetention(jobs, a.schedLeader, a.retentionEvery); return nil })

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("backapp listening", "addr", ln.Addr().String(), "url", a.cfg.BaseURL, "database", a.Store.Dialect(), "version", version.String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	a.log.Info("shut down cleanly")
	return nil
}

// sweep deletes expired sessions and prunes the notification outbox every ten
// minutes. Every replica sweeps: the deletes are idempotent, and replicas pruning
// at once skip each other's rows.
func (a *App) sweep(ctx context.Context) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := a.now().UTC()
			n, err := a.Store.DeleteExpiredSessions(ctx, now, now.Add(-a.Auth.SessionIdle()))
			if err != nil {
				a.log.Warn("delete expired sessions", "err", err)
			} else if n > 0 {
				a.log.Debug("deleted expired sessions", "count", n)
			}
			if n, err := a.Outbox.Prune(ctx); err != nil {
				a.log.Warn("prune notification outbox", "err", err)
			} else if n > 0 {
				a.log.Info("pruned settled notifications", "count", n, "older than", a.cfg.NotifyRetention)
			}
		}
	}
}

// Close releases the scheduler's lead, the event fan-out and the database.
func (a *App) Close() error {
	a.Events.Close()
	if a.closeBus != nil {
		a.closeBus()
	}
	if l, ok := a.schedLeader.(*scheduler.PostgresLeader); ok {
		_ = l.Close() // the lock goes with the session either way
	}
	return a.Store.Close()
}

// buildRuns makes the run service and the scheduler: with PostgreSQL the replica
// holding an advisory lock schedules and runs retention, with SQLite this server.
func (a *App) buildRuns(opt Options) error {
	svc, err := runs.New(runs.Config{Store: a.Store, Destinations: a.Destinations, Notify: a.Bus.Wake, Events: a.Bus, Retention: a.Alerts,
		Logger: a.log, Now: opt.Now})
	if err != nil {
		return fmt.Errorf("runs: %w", err)
	}
	a.Runs = svc
	a.schedLeader = scheduler.AlwaysLeader{}
	if a.cfg.DatabaseURL != "" {
		a.schedLeader = scheduler.NewPostgresLeader(a.cfg.DatabaseURL)
	}
	a.Scheduler = &scheduler.Scheduler{Store: svc.SchedulerStore(), Leader: a.schedLeader, Log: a.log,
		Now: opt.Now, After: opt.SchedulerAfter}
	a.retentionEvery = opt.RetentionEvery
	if a.retentionEvery == 0 {
		a.retentionEvery = a.cfg.RetentionEvery
	}
	return nil
}

// buildEvents makes the event broker and the bus that feeds it: in-process with
// SQLite; through PostgreSQL's LISTEN/NOTIFY with PostgreSQL, so that every replica
// sees every event and wakes its agents' long polls.
func (a *App) buildEvents(ctx context.Context) error {
	// In-process ids start at the clock's microseconds, so they keep growing across
	// restarts and a browser's old Last-Event-ID is recognised as old: the real clock,
	// not Options.Now (a test's clock may stand still or go back).
	a.Events = events.NewBroker(events.BrokerConfig{First: uint64(time.Now().UnixMicro())})
	// The listener may hear a wake-up before the agent API exists.
	wake := func(agentID string) {
		if api := a.wakeAPI.Load(); api != nil {
			api.Notify(agentID)
		}
	}
	if a.cfg.DatabaseURL == "" {
		a.Bus = &events.Local{Broker: a.Events, WakeFunc: wake}
		return nil
	}
	f, err := pgevents.Start(ctx, pgevents.Config{URL: a.cfg.DatabaseURL, Broker: a.Events, Wake: wake, Logger: a.log})
	if err != nil {
		return fmt.Errorf("live events: %w", err)
	}
	a.Bus, a.closeBus = f, f.Close
	return nil
}
