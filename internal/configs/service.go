package configs

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/audit"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/scheduler"
	"github.com/backapp/backapp/internal/store"
)

// Store is what the service needs from the database.
type Store interface {
	CreateConfig(ctx context.Context, c *store.BackupConfig) error
	GetConfig(ctx context.Context, id string) (store.BackupConfig, error)
	ListConfigs(ctx context.Context, userID string) ([]store.BackupConfig, error)
	UpdateConfig(ctx context.Context, c *store.BackupConfig) error
	DeleteConfig(ctx context.Context, id string) error
	ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error)
	GetAgent(ctx context.Context, id string) (store.Agent, error)
	ListAgents(ctx context.Context, userID string) ([]store.Agent, error)
	GetDestination(ctx context.Context, id string) (store.Destination, error)
	ListDestinations(ctx context.Context, userID string) ([]store.Destination, error)
	GetSetting(ctx context.Context, key string) (string, error)
	SetSetting(ctx context.Context, key, value string) error
	AddAudit(ctx context.Context, e store.AuditEntry) error
}

// Config of the service.
type ServiceConfig struct {
	Store  Store            // required; size estimates need it to be an EstimateStore too
	Logger *slog.Logger     // slog.Default() when nil
	Now    func() time.Time // time.Now when nil
	// Keys seal passphrases at rest (secrets.Keys); without it they are stored as
	// given, which only tests do.
	Keys Sealer
	// Notify wakes the long-polling heartbeat of an agent that has new work
	// (agentapi.API.Notify); nil leaves it to the heartbeat's periodic re-check.
	Notify func(agentID string)
}

// Sealer seals secrets under the server's master key (secrets.Keys).
type Sealer interface {
	Seal(purpose string, plaintext, context []byte) ([]byte, error)
}

// PassphrasePurpose is the sealing purpose of configs' passphrases.
const PassphrasePurpose = "config passphrase"

// Service manages backup configurations on behalf of signed-in users. Users see
// and change their own; administrators see and change everyone's. Another user's
// configuration is NotFound, as one that does not exist.
type Service struct {
	st     Store
	log    *slog.Logger
	now    func() time.Time
	keys   Sealer
	notify func(agentID string)
}

// New returns the service.
func New(cfg ServiceConfig) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("configs: Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Notify == nil {
		cfg.Notify = func(string) {}
	}
	return &Service{st: cfg.Store, log: cfg.Logger, now: cfg.Now, keys: cfg.Keys, notify: cfg.Notify}, nil
}

// Saved is the answer to saving a configuration. Identity is set only when the
// save generated an age key pair: it is the one time the identity exists outside
// the user's hands. Show it once, never store or log it.
type Saved struct {
	Config   Config
	Identity string
}

// NotFoundError is the one error for a configuration that does not exist or that the
// asker may not see or run (an agent asking for another agent's, a user for another
// user's): NotFound, never saying which.
func NotFoundError(id string) error {
	return apperr.New(apperr.NotFound, "no configuration %q: it does not exist or is not yours", id)
}

func (s *Service) get(ctx context.Context, actor store.User, id string) (Config, error) {
	r, err := s.st.GetConfig(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !actor.Sees(r.UserID)) {
		return Config{}, NotFoundError(id)
	}
	if err != nil {
		return Config{}, fmt.Errorf("get config %s: %w", id, err)
	}
	return FromStore(r)
}

// Get returns one configuration actor may see, with its passphrase (for the caller
// to drop with Public before showing it).
func (s *Service) Get(ctx context.Context, actor store.User, id string) (Config, error) {
	return s.get(ctx, actor, id)
}

// List returns actor's configurations, every user's for an administrator, oldest
// first as the store gives them. Rows that cannot be read are logged and left out.
func (s *Service) List(ctx context.Context, actor store.User) ([]Config, error) {
	rows, err := s.st.ListConfigs(ctx, actor.Scope())
	if err != nil {
		return nil, fmt.Errorf("list configs: %w", err)
	}
	out := make([]Config, 0, len(rows))
	for _, r := range rows {
		c, err := FromStore(r)
		if err != nil {
			s.log.Warn("list configs: unreadable config", "err", err)
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// Validate checks in as it would be saved by actor: as a new configuration when id
// is "", else as a change to configuration id (NotFound if actor cannot see it). It
// returns the configuration as it would be saved, or an Invalid error whose Fields
// name every problem. Nothing is saved and no key is generated.
func (s *Service) Validate(ctx context.Context, actor store.User, id string, in Config) (Config, error) {
	cc := checkCtx{actor: actor, owner: actor.ID}
	if id != "" {
		prev, err := s.get(ctx, actor, id)
		if err != nil {
			return Config{}, err
		}
		cc.owner, cc.prev = prev.UserID, &prev
		in.ID, in.UserID, in.CreatedAt = prev.ID, prev.UserID, prev.CreatedAt
	}
	return s.check(ctx, cc, normalize(in))
}

// generate settles EncryptGenerate: a fresh X25519 key pair, of which only the
// recipient is kept in the configuration.
func generate(c *Config) (identity string, err error) {
	if c.Options.EncryptionMode != EncryptGenerate {
		return "", nil
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", fmt.Errorf("generate age key pair: %w", err)
	}
	c.Options.EncryptionMode = EncryptAge
	c.Options.Encryption = true
	c.Options.Recipients = []string{id.Recipient().String()}
	return id.String(), nil
}

// Create validates in and saves it as a new configuration of actor. Nothing is
// saved when anything is invalid.
func (s *Service) Create(ctx context.Context, actor store.User, in Config, m auth.Meta) (Saved, error) {
	c, err := s.Validate(ctx, actor, "", in)
	if err != nil {
		return Saved{}, err
	}
	identity, err := generate(&c)
	if err != nil {
		return Saved{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Saved{}, fmt.Errorf("new config id: %w", err)
	}
	now := s.now().UTC()
	c.ID, c.UserID, c.CreatedAt, c.UpdatedAt = id.String(), actor.ID, now, now
	if err := s.sealPassphrase(&c); err != nil {
		return Saved{}, err
	}
	row, err := toStore(c)
	if err != nil {
		return Saved{}, fmt.Errorf("encode config: %w", err)
	}
	if err := s.st.CreateConfig(ctx, &row); err != nil {
		return Saved{}, fmt.Errorf("create config: %w", err)
	}
	s.audit(ctx, actor.ID, "config.create", c.ID, m, describe(c, identity != ""))
	return Saved{Config: c, Identity: identity}, nil
}

// Update validates in and replaces configuration id with it. Nothing is saved when
// anything is invalid. The owner and creation time never change.
func (s *Service) Update(ctx context.Context, actor store.User, id string, in Config, m auth.Meta) (Saved, error) {
	c, err := s.Validate(ctx, actor, id, in)
	if err != nil {
		return Saved{}, err
	}
	identity, err := generate(&c)
	if err != nil {
		return Saved{}, err
	}
	c.UpdatedAt = s.now().UTC()
	if err := s.sealPassphrase(&c); err != nil {
		return Saved{}, err
	}
	row, err := toStore(c)
	if err != nil {
		return Saved{}, fmt.Errorf("encode config: %w", err)
	}
	if err := s.st.UpdateConfig(ctx, &row); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Saved{}, NotFoundError(id)
		}
		return Saved{}, fmt.Errorf("update config %s: %w", id, err)
	}
	s.audit(ctx, actor.ID, "config.update", c.ID, m, describe(c, identity != ""))
	return Saved{Config: c, Identity: identity}, nil
}

// Delete deletes configuration id and its run history. Archives already stored stay
// in their storage. A configuration with a queued or running backup cannot be
// deleted (Conflict) until that run ends or is cancelled.
func (s *Service) Delete(ctx context.Context, actor store.User, id string, m auth.Meta) error {
	c, err := s.get(ctx, actor, id)
	if err != nil {
		return err
	}
	for _, st := range []string{"running", "queued"} {
		runs, err := s.st.ListRuns(ctx, store.RunFilter{ConfigID: id, Status: st, Limit: 1})
		if err != nil {
			return fmt.Errorf("list runs of config %s: %w", id, err)
		}
		if len(runs) > 0 {
			return apperr.New(apperr.Conflict, "a backup of %q is %s; cancel it or wait for it to end before deleting the configuration", c.Name, st)
		}
	}
	if err := s.st.DeleteConfig(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return NotFoundError(id)
		}
		return fmt.Errorf("delete config %s: %w", id, err)
	}
	s.audit(ctx, actor.ID, "config.delete", id, m, fmt.Sprintf("name %q", c.Name))
	return nil
}

// describe is the audit detail of a save: never a passphrase or key.
func describe(c Config, generated bool) string {
	d := fmt.Sprintf("name %q, %s mode, %d sources, encryption %s", c.Name, c.ExecutionMode, len(c.Sources), c.Options.EncryptionMode)
	if generated {
		d += " (key pair generated, identity shown once)"
	}
	return d
}

func (s *Service) audit(ctx context.Context, actorID, action, target string, m auth.Meta, detail string) {
	audit.Writer{Store: s.st, Log: s.log, Now: s.now}.Write(ctx, actorID, action, target, m.IP, detail)
}

// PreviewCount is how many run times a schedule preview shows.
const PreviewCount = 5

// Preview returns the next n run times of a cron expression in timezone after
// after, or scheduler.Parse's Invalid error naming the cron and timezone fields.
func Preview(expr, timezone string, after time.Time, n int) ([]time.Time, error) {
	sc, err := scheduler.Parse(expr, timezone)
	if err != nil {
		return nil, err
	}
	return sc.NextN(after, n), nil
}

// Now is the service's clock, for previews.
func (s *Service) Now() time.Time { return s.now() }

// sealPassphrase replaces a new passphrase by its sealed form, so the database never
// holds it in clear.
func (s *Service) sealPassphrase(c *Config) error {
	if s.keys == nil || c.Options.Passphrase == "" {
		return nil
	}
	b, err := s.keys.Seal(PassphrasePurpose, []byte(c.Options.Passphrase), []byte(c.ID))
	if err != nil {
		return fmt.Errorf("seal passphrase: %w", err)
	}
	c.Options.PassphraseSealed = base64.StdEncoding.EncodeToString(b)
	c.Options.Passphrase = ""
	return nil
}
