package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/audit"
	"github.com/backapp/backapp/internal/store"
)

// ResetMailer sends password-reset e-mails.
type ResetMailer interface {
	SendPasswordReset(ctx context.Context, to, name, link string, ttl time.Duration) error
}

// Store is what the account actions need from the database: users, sessions, reset
// tokens, the settings they read and the audit log they write.
type Store interface {
	CreateUser(ctx context.Context, u *store.User, firstIsAdmin bool) error
	GetUser(ctx context.Context, id string) (store.User, error)
	GetUserByEmail(ctx context.Context, email string) (store.User, error)
	ListUsers(ctx context.Context) ([]store.User, error)
	CountUsers(ctx context.Context) (int, error)
	UpdateUserProfile(ctx context.Context, id, name, email string, now time.Time) error
	SetUserPassword(ctx context.Context, id, hash string, now time.Time) error
	SetUserRole(ctx context.Context, id, role string, now time.Time) error
	SetUserDisabled(ctx context.Context, id string, disabled bool, now time.Time) error
	DeleteUser(ctx context.Context, id string) error
	CreateResetToken(ctx context.Context, t store.ResetToken) error
	ConsumeResetToken(ctx context.Context, tokenHash string, now time.Time) (string, error)
	store.Sessions
	store.Settings
	audit.Store
}

// Config configures a Service. Zero durations and limits take the defaults below.
type Config struct {
	Store  Store
	Mailer ResetMailer
	Logger *slog.Logger
	// BaseURL is the public URL of the server, used in reset links.
	BaseURL string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// PasswordCost is bcrypt's cost; bcrypt.DefaultCost when 0. Tests lower it.
	PasswordCost int

	SessionIdle time.Duration // default 24h: a session unused this long ends
	SessionMax  time.Duration // default 7 days: absolute lifetime
	ResetTTL    time.Duration // default 30 min

	// LoginFailures per account (and 3× that per IP) within LoginWindow lock further
	// attempts out until the window slides. Defaults 10 and 15 min.
	LoginFailures int
	LoginWindow   time.Duration
	// Requests per IP per hour for register and reset requests; default 20.
	HourlyPerIP int
}

// Meta describes the request an action came from, for the audit log and rate limits.
type Meta struct {
	IP        string
	UserAgent string
}

// Session is an authenticated session and its user.
type Session struct {
	User      store.User
	TokenHash string
	CSRFToken string
	ExpiresAt time.Time
}

// Service implements the account actions.
type Service struct {
	cfg Config
	st  Store
	log *slog.Logger
	now func() time.Time

	loginAccount *limiter
	loginIP      *limiter
	registerIP   *limiter
	resetIP      *limiter
	resetAccount *limiter

	dummyHash string // compared against when the account does not exist
}

// NewService returns a Service; cfg.Store is required.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("auth: store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PasswordCost == 0 {
		cfg.PasswordCost = bcrypt.DefaultCost
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.SessionIdle, 24*time.Hour)
	def(&cfg.SessionMax, 7*24*time.Hour)
	def(&cfg.ResetTTL, 30*time.Minute)
	def(&cfg.LoginWindow, 15*time.Minute)
	if cfg.LoginFailures <= 0 {
		cfg.LoginFailures = 10
	}
	if cfg.HourlyPerIP <= 0 {
		cfg.HourlyPerIP = 20
	}
	dummy, err := hashPassword("not a real password, only for timing", cfg.PasswordCost)
	if err != nil {
		return nil, err
	}
	now := func() time.Time { return cfg.Now().UTC() }
	return &Service{
		cfg:          cfg,
		st:           cfg.Store,
		log:          cfg.Logger,
		now:          now,
		loginAccount: newLimiter(cfg.LoginFailures, cfg.LoginWindow, now),
		loginIP:      newLimiter(3*cfg.LoginFailures, cfg.LoginWindow, now),
		registerIP:   newLimiter(cfg.HourlyPerIP, time.Hour, now),
		resetIP:      newLimiter(cfg.HourlyPerIP, time.Hour, now),
		resetAccount: newLimiter(5, time.Hour, now),
		dummyHash:    dummy,
	}, nil
}

// SessionIdle is the idle timeout of sessions.
func (s *Service) SessionIdle() time.Duration { return s.cfg.SessionIdle }

func rateLimited(d time.Duration, what string) error {
	d = retrySeconds(d)
	return &apperr.Error{
		Kind:       apperr.RateLimited,
		Message:    fmt.Sprintf("too many %s; try again in %s", what, humanWait(d)),
		RetryAfter: d,
	}
}

func humanWait(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d seconds", int(d/time.Second))
	}
	m := int((d + time.Minute - 1) / time.Minute)
	if m == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

// RegisterInput is what a person gives to create an account.
type RegisterInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

// RegistrationOpen reports whether new accounts may register. It is always true while
// no account exists, so the first visit can create the first admin.
func (s *Service) RegistrationOpen(ctx context.Context) (bool, error) {
	n, err := s.st.CountUsers(ctx)
	if err != nil {
		return false, fmt.Errorf("count users: %w", err)
	}
	if n == 0 {
		return true, nil
	}
	v, err := s.st.GetSetting(ctx, settingRegistrationOpen)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read registration setting: %w", err)
	}
	return v != "false", nil
}

const settingRegistrationOpen = "registration_open"

// SetRegistrationOpen opens or closes registration (admins only).
func (s *Service) SetRegistrationOpen(ctx context.Context, actor store.User, open bool, m Meta) error {
	if actor.Role != store.RoleAdmin {
		return errAdminOnly
	}
	v := "false"
	if open {
		v = "true"
	}
	if err := s.st.SetSetting(ctx, settingRegistrationOpen, v); err != nil {
		return fmt.Errorf("save registration setting: %w", err)
	}
	s.audit(ctx, actor.ID, "settings.registration", "", m, "registration open: "+v)
	return nil
}

var errAdminOnly = apperr.New(apperr.Forbidden, "only administrators can do this")

// Register creates an account. The first account becomes admin; later ones are users.
func (s *Service) Register(ctx context.Context, in RegisterInput, m Meta) (store.User, error) {
	if ok, d := s.registerIP.take(m.IP); !ok {
		return store.User{}, rateLimited(d, "registrations from your address")
	}
	email, name, f := checkNewAccount(in)
	if err := f.Err(); err != nil {
		return store.User{}, err
	}
	open, err := s.RegistrationOpen(ctx)
	if err != nil {
		return store.User{}, err
	}
	if !open {
		return store.User{}, apperr.New(apperr.Forbidden, "registration is closed; ask an administrator for an account")
	}
	return s.createUser(ctx, email, name, in.Password, store.RoleUser, true, "", m)
}

// CreateUser creates an account with a given role, for `backapp admin create-user`
// and for admins. actorID may be empty (the operator's command line).
func (s *Service) CreateUser(ctx context.Context, in RegisterInput, role string, actorID string, m Meta) (store.User, error) {
	email, name, f := checkNewAccount(in)
	if role != store.RoleAdmin && role != store.RoleUser {
		f.Add("role", "role must be %q or %q", store.RoleAdmin, store.RoleUser)
	}
	if err := f.Err(); err != nil {
		return store.User{}, err
	}
	return s.createUser(ctx, email, name, in.Password, role, false, actorID, m)
}

// checkNewAccount normalizes a new account's e-mail and name and records every problem
// with them and the password.
func checkNewAccount(in RegisterInput) (email, name string, f apperr.Fields) {
	email = NormalizeEmail(in.Email)
	name = strings.TrimSpace(in.Name)
	f = apperr.Fields{}
	if msg := validateEmail(email); msg != "" {
		f.Add("email", "%s", msg)
	}
	if msg := validatePassword(in.Password, email); msg != "" {
		f.Add("password", "%s", msg)
	}
	if msg := validateName(name); msg != "" {
		f.Add("name", "%s", msg)
	}
	return email, name, f
}

func (s *Service) createUser(ctx context.Context, email, name, password, role string, firstIsAdmin bool, actorID string, m Meta) (store.User, error) {
	hash, err := hashPassword(password, s.cfg.PasswordCost)
	if err != nil {
		return store.User{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return store.User{}, fmt.Errorf("new user id: %w", err)
	}
	now := s.now()
	u := store.User{ID: id.String(), Email: email, Name: name, PasswordHash: hash, Role: role, CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateUser(ctx, &u, firstIsAdmin); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.User{}, apperr.Invalidf("email", "an account with this e-mail already exists; sign in or reset your password")
		}
		return store.User{}, fmt.Errorf("create user: %w", err)
	}
	if actorID == "" {
		actorID = u.ID
	}
	s.audit(ctx, actorID, "user.create", u.ID, m, "role "+u.Role)
	return u, nil
}

// Login checks credentials and opens a session. The answer for an unknown e-mail is
// the same as for a wrong password (and takes as long), so accounts cannot be
// enumerated. After LoginFailures failures for one account (or 3× for one IP) within
// LoginWindow, attempts are refused with RateLimited until the window slides.
func (s *Service) Login(ctx context.Context, email, password string, m Meta) (store.User, string, error) {
	email = NormalizeEmail(email)
	if email == "" || password == "" || len(password) > MaxPasswordLen {
		f := apperr.Fields{}
		if email == "" {
			f.Add("email", "e-mail is required")
		}
		if password == "" {
			f.Add("password", "password is required")
		} else if len(password) > MaxPasswordLen {
			return store.User{}, "", errBadCredentials
		}
		return store.User{}, "", f.Err()
	}
	if b, d := s.loginAccount.blocked("acct:" + email); b {
		s.audit(ctx, "", "login.blocked", email, m, "too many failed attempts for this account")
		return store.User{}, "", rateLimited(d, "failed sign-in attempts for this account")
	}
	if b, d := s.loginIP.blocked("ip:" + m.IP); b {
		return store.User{}, "", rateLimited(d, "failed sign-in attempts from your address")
	}
	u, err := s.st.GetUserByEmail(ctx, email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		checkPassword(s.dummyHash, password)
		s.loginFailed(ctx, "", email, m, "unknown e-mail")
		return store.User{}, "", errBadCredentials
	case err != nil:
		return store.User{}, "", fmt.Errorf("look up user: %w", err)
	}
	if !checkPassword(u.PasswordHash, password) {
		s.loginFailed(ctx, u.ID, email, m, "wrong password")
		return store.User{}, "", errBadCredentials
	}
	if u.Disabled {
		s.loginFailed(ctx, u.ID, email, m, "account disabled")
		return store.User{}, "", apperr.New(apperr.Forbidden, "this account is disabled; ask an administrator")
	}
	s.loginAccount.reset("acct:" + email)
	token, err := s.newSession(ctx, u.ID, m)
	if err != nil {
		return store.User{}, "", err
	}
	s.audit(ctx, u.ID, "login.success", u.ID, m, "")
	return u, token, nil
}

func (s *Service) loginFailed(ctx context.Context, userID, email string, m Meta, why string) {
	s.loginAccount.add("acct:" + email)
	s.loginIP.add("ip:" + m.IP)
	target := userID
	if target == "" {
		target = email
	}
	s.audit(ctx, "", "login.failure", target, m, why)
}

// NewSession opens a session for a user who just proved who they are (registration).
func (s *Service) NewSession(ctx context.Context, userID string, m Meta) (string, error) {
	return s.newSession(ctx, userID, m)
}

func (s *Service) newSession(ctx context.Context, userID string, m Meta) (string, error) {
	token := randomToken()
	now := s.now()
	sess := store.Session{
		TokenHash:  HashToken(token),
		UserID:     userID,
		CSRFToken:  randomToken(),
		CreatedAt:  now,
		LastSeenAt: now,
		ExpiresAt:  now.Add(s.cfg.SessionMax),
		IP:         m.IP,
		UserAgent:  truncate(m.UserAgent, 255),
	}
	if err := s.st.CreateSession(ctx, sess); err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	return token, nil
}

// errNoSession is what every rejected session gets: the client signs in again.
var errNoSession = apperr.New(apperr.Unauthorized, "sign in to continue")

// Authenticate returns the session for a cookie token. Expired sessions (idle or
// absolute) and sessions of disabled users are rejected at once.
func (s *Service) Authenticate(ctx context.Context, token string) (Session, error) {
	if token == "" || len(token) > 128 {
		return Session{}, errNoSession
	}
	h := HashToken(token)
	sess, u, err := s.st.GetSession(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, errNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("load session: %w", err)
	}
	now := s.now()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.cfg.SessionIdle || u.Disabled {
		if err := s.st.DeleteSession(ctx, h); err != nil {
			s.log.Warn("delete expired session", "err", err)
		}
		return Session{}, errNoSession
	}
	// Writing last-seen on every request would make each page view a write; a minute's
	// resolution is plenty for an idle timeout measured in hours.
	if now.Sub(sess.LastSeenAt) > time.Minute {
		if err := s.st.TouchSession(ctx, h, now); err != nil {
			s.log.Warn("touch session", "err", err)
		}
	}
	return Session{User: u, TokenHash: h, CSRFToken: sess.CSRFToken, ExpiresAt: sess.ExpiresAt}, nil
}

// Check reports whether sess is still good now, without touching it (a long-lived
// stream checks this periodically): nil, or the Unauthorized error Authenticate
// gives when the session ended (logout, expiry, a disabled user) or the user's
// role changed since sess was read.
func (s *Service) Check(ctx context.Context, sess Session) error {
	cur, u, err := s.st.GetSession(ctx, sess.TokenHash)
	if errors.Is(err, store.ErrNotFound) {
		return errNoSession
	}
	if err != nil {
		return fmt.Errorf("load session: %w", err)
	}
	now := s.now()
	if !now.Before(cur.ExpiresAt) || now.Sub(cur.LastSeenAt) >= s.cfg.SessionIdle || u.Disabled || u.Role != sess.User.Role {
		return errNoSession
	}
	return nil
}

// Logout ends the session with token; ending an unknown session is not an error.
func (s *Service) Logout(ctx context.Context, token string, m Meta) error {
	if token == "" {
		return nil
	}
	h := HashToken(token)
	sess, _, err := s.st.GetSession(ctx, h)
	if err == nil {
		s.audit(ctx, sess.UserID, "logout", sess.UserID, m, "")
	}
	if err := s.st.DeleteSession(ctx, h); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// ProfileInput is what a user may change about themselves.
type ProfileInput struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// UpdateProfile changes the user's own name and e-mail.
func (s *Service) UpdateProfile(ctx context.Context, userID string, in ProfileInput, m Meta) (store.User, error) {
	email := NormalizeEmail(in.Email)
	name := strings.TrimSpace(in.Name)
	f := apperr.Fields{}
	if msg := validateEmail(email); msg != "" {
		f.Add("email", "%s", msg)
	}
	if msg := validateName(name); msg != "" {
		f.Add("name", "%s", msg)
	}
	if err := f.Err(); err != nil {
		return store.User{}, err
	}
	old, err := s.st.GetUser(ctx, userID)
	if err != nil {
		return store.User{}, fmt.Errorf("load user: %w", err)
	}
	if err := s.st.UpdateUserProfile(ctx, userID, name, email, s.now()); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.User{}, apperr.Invalidf("email", "another account already uses this e-mail")
		}
		return store.User{}, fmt.Errorf("update profile: %w", err)
	}
	if old.Email != email {
		s.audit(ctx, userID, "user.email", userID, m, "e-mail changed")
	}
	return s.st.GetUser(ctx, userID)
}

// ChangePassword changes the user's password after checking the current one, and ends
// every other session of the user.
func (s *Service) ChangePassword(ctx context.Context, sess Session, current, next string, m Meta) error {
	u, err := s.st.GetUser(ctx, sess.User.ID)
	if err != nil {
		return fmt.Errorf("load user: %w", err)
	}
	if b, d := s.loginAccount.blocked("acct:" + u.Email); b {
		return rateLimited(d, "wrong passwords for this account")
	}
	if !checkPassword(u.PasswordHash, current) {
		s.loginAccount.add("acct:" + u.Email)
		s.audit(ctx, u.ID, "password.change.failure", u.ID, m, "wrong current password")
		return apperr.Invalidf("current_password", "current password is wrong")
	}
	if msg := validatePassword(next, u.Email); msg != "" {
		return apperr.Invalidf("new_password", "%s", msg)
	}
	if current == next {
		return apperr.Invalidf("new_password", "new password must differ from the current one")
	}
	if err := s.setPassword(ctx, u.ID, next, sess.TokenHash); err != nil {
		return err
	}
	s.audit(ctx, u.ID, "password.change", u.ID, m, "")
	return nil
}

func (s *Service) setPassword(ctx context.Context, userID, password, keepSession string) error {
	hash, err := hashPassword(password, s.cfg.PasswordCost)
	if err != nil {
		return err
	}
	if err := s.st.SetUserPassword(ctx, userID, hash, s.now()); err != nil {
		return fmt.Errorf("save password: %w", err)
	}
	if err := s.st.DeleteUserSessions(ctx, userID, keepSession); err != nil {
		return fmt.Errorf("end other sessions: %w", err)
	}
	return nil
}

// ResetByMail reports whether password reset by e-mail works: the server has a mailer
// (SMTP settings).
func (s *Service) ResetByMail() bool { return s.cfg.Mailer != nil }

// RequestPasswordReset e-mails a single-use reset link when the address belongs to an
// enabled account. It answers the same whether or not the account exists.
func (s *Service) RequestPasswordReset(ctx context.Context, email string, m Meta) error {
	email = NormalizeEmail(email)
	if msg := validateEmail(email); msg != "" {
		return apperr.Invalidf("email", "%s", msg)
	}
	// Checked before the account is looked up, so every address gets this answer and
	// the page cannot be used to find out which addresses have accounts.
	if s.cfg.Mailer == nil {
		return apperr.New(apperr.Unavailable, "password reset by e-mail is not available: the server has no SMTP settings; ask an administrator to run `backapp admin reset-password`")
	}
	if ok, d := s.resetIP.take(m.IP); !ok {
		return rateLimited(d, "reset requests from your address")
	}
	if ok, _ := s.resetAccount.take("acct:" + email); !ok {
		// Answer as if sent: saying "too many for this account" would confirm it exists.
		return nil
	}
	u, err := s.st.GetUserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		s.audit(ctx, "", "password.reset.request", email, m, "unknown e-mail")
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up user: %w", err)
	}
	if u.Disabled {
		s.audit(ctx, "", "password.reset.request", u.ID, m, "account disabled")
		return nil
	}
	token := randomToken()
	now := s.now()
	if err := s.st.CreateResetToken(ctx, store.ResetToken{TokenHash: HashToken(token), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.ResetTTL)}); err != nil {
		return fmt.Errorf("save reset token: %w", err)
	}
	link := strings.TrimRight(s.cfg.BaseURL, "/") + "/reset-password?token=" + url.QueryEscape(token)
	if err := s.cfg.Mailer.SendPasswordReset(ctx, u.Email, u.Name, link, s.cfg.ResetTTL); err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "the reset e-mail could not be sent; try again later or ask an administrator")
	}
	s.audit(ctx, "", "password.reset.request", u.ID, m, "reset e-mail sent")
	return nil
}

// ResetPassword sets a new password with a reset token. The token works once, until
// it expires; all the user's sessions end.
func (s *Service) ResetPassword(ctx context.Context, token, password string, m Meta) error {
	if token == "" {
		return apperr.Invalidf("token", "the reset link is incomplete; open the link from the e-mail again")
	}
	if utf8Len := len(password); utf8Len == 0 {
		return apperr.Invalidf("password", "password is required")
	}
	// Validate the password before consuming the token, so a too-short password does
	// not burn the link.
	if msg := validatePassword(password, ""); msg != "" {
		return apperr.Invalidf("password", "%s", msg)
	}
	userID, err := s.st.ConsumeResetToken(ctx, HashToken(token), s.now())
	if errors.Is(err, store.ErrNotFound) {
		s.audit(ctx, "", "password.reset.failure", "", m, "invalid, used or expired token")
		return apperr.Invalidf("token", "this reset link has expired or was already used; ask for a new one")
	}
	if err != nil {
		return fmt.Errorf("use reset token: %w", err)
	}
	u, err := s.st.GetUser(ctx, userID)
	if err != nil {
		return fmt.Errorf("load user: %w", err)
	}
	if msg := validatePassword(password, u.Email); msg != "" {
		return apperr.Invalidf("password", "%s", msg)
	}
	if err := s.setPassword(ctx, u.ID, password, ""); err != nil {
		return err
	}
	s.loginAccount.reset("acct:" + u.Email)
	s.audit(ctx, u.ID, "password.reset", u.ID, m, "")
	return nil
}

// AdminSetPassword sets a user's password without the current one, for the operator's
// `backapp admin reset-password`. All the user's sessions end.
func (s *Service) AdminSetPassword(ctx context.Context, email, password string, m Meta) (store.User, error) {
	u, err := s.st.GetUserByEmail(ctx, NormalizeEmail(email))
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, apperr.New(apperr.NotFound, "no account with e-mail %s", email)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("look up user: %w", err)
	}
	if msg := validatePassword(password, u.Email); msg != "" {
		return store.User{}, apperr.Invalidf("password", "%s", msg)
	}
	if err := s.setPassword(ctx, u.ID, password, ""); err != nil {
		return store.User{}, err
	}
	s.loginAccount.reset("acct:" + u.Email)
	s.audit(ctx, "", "password.reset", u.ID, m, "by operator command")
	return u, nil
}

// HashToken is the stored form of a session, reset or similar token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// randomToken returns 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics on an unusable source)
	return base64.RawURLEncoding.EncodeToString(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func (s *Service) audit(ctx context.Context, actorID, action, target string, m Meta, detail string) {
	audit.Writer{Store: s.st, Log: s.log, Now: s.now}.Write(ctx, actorID, action, target, m.IP, detail)
}
