package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"slices"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/notify/webhook"
	"github.com/backapp/backapp/internal/store"
)

// Store is what the service needs from the database.
type Store interface {
	CreateChannel(ctx context.Context, c *store.Channel) error
	UpdateChannel(ctx context.Context, c *store.Channel) error
	GetChannel(ctx context.Context, id string) (store.Channel, error)
	ListChannels(ctx context.Context, userID string) ([]store.Channel, error)
	DeleteChannel(ctx context.Context, id string, at time.Time, reason string) (int, error)
	AddAttempt(ctx context.Context, a *store.Attempt) error
	ListAttempts(ctx context.Context, channelID string, limit int) ([]store.Attempt, error)
	GetConfig(ctx context.Context, id string) (store.BackupConfig, error)
}

// Sender delivers one message (Dispatcher).
type Sender interface {
	Deliver(ctx context.Context, ch store.Channel, id string, payload []byte) Delivery
}

// Service manages users' channels: each user sees and uses only their own.
type Service struct {
	st      Store
	keys    Sealer
	send    Sender
	log     *slog.Logger
	now     func() time.Time
	baseURL string
	noMail  bool
}

// NoMail is why e-mail channels cannot be created on a server without SMTP
// settings, naming what the administrator sets.
const NoMail = "e-mail is not configured on this server: an administrator must set --smtp-host and --smtp-from " +
	"(BACKAPP_SMTP_HOST, BACKAPP_SMTP_FROM), and restart it"

// Config configures the service; Store and Sender are required.
type Config struct {
	Store Store
	// Keys seals the signing secrets in the database (nil: stored as they are).
	Keys    Sealer
	Sender  Sender
	Logger  *slog.Logger
	Now     func() time.Time
	BaseURL string
	// NoMail says the server has no SMTP settings (mail.Disabled): e-mail channels
	// are refused, but those made before keep what they have (their deliveries fail
	// and raise the channel's alert); only disabling one is accepted.
	NoMail bool
}

// New returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Sender == nil {
		return nil, errors.New("notify: Store and Sender are required")
	}
	s := &Service{st: cfg.Store, keys: cfg.Keys, send: cfg.Sender, log: cfg.Logger, now: cfg.Now, baseURL: strings.TrimRight(cfg.BaseURL, "/"),
		noMail: cfg.NoMail}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Input is a channel as a user submits it. An empty Secret on a generic webhook
// gets a random one on create and keeps the old one on update.
type Input struct {
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`
	Preset    string   `json:"preset"`
	Target    string   `json:"target"`
	Secret    string   `json:"secret"`
	Events    []string `json:"events"`
	ConfigIDs []string `json:"configIds"`
	Enabled   bool     `json:"enabled"`
}

// validate checks in for actor and fills c from it.
func (s *Service) validate(ctx context.Context, actor store.User, in Input, c *store.Channel) error {
	f := apperr.Fields{}
	in.Name, in.Target = strings.TrimSpace(in.Name), strings.TrimSpace(in.Target)
	switch {
	case in.Name == "":
		f.Add("name", "give the channel a name")
	case len(in.Name) > 100:
		f.Add("name", "the name is longer than 100 characters")
	}
	switch in.Kind {
	case store.ChannelEmail:
		a, err := netmail.ParseAddress(in.Target)
		if err != nil || a.Name != "" || a.Address != in.Target || len(in.Target) > 254 {
			f.Add("target", "%q is not an e-mail address like name@example.com", in.Target)
		}
		in.Preset, in.Secret = "", ""
		// An e-mail channel could never deliver. One that is being disabled may be
		// saved: its owner stops its failures without deleting it.
		if s.noMail && (c.ID == "" || in.Enabled) {
			f.Add("kind", NoMail)
		}
	case store.ChannelWebhook:
		if err := webhook.CheckURL(in.Target); err != nil {
			f.Add("target", "webhook URL: %s", err.Error())
		} else if len(in.Target) > 2000 {
			f.Add("target", "the URL is longer than 2000 characters")
		}
		if in.Preset == "" {
			in.Preset = webhook.Generic
		}
		if !slices.Contains(webhook.Presets, in.Preset) {
			f.Add("preset", "unknown preset %q: one of %s", in.Preset, strings.Join(webhook.Presets, ", "))
		}
		if in.Preset != webhook.Generic {
			in.Secret = ""
		} else if in.Secret == "" {
			in.Secret = c.Secret
			if in.Secret == "" {
				in.Secret = newSecret()
			}
		} else if len(in.Secret) < 16 {
			f.Add("secret", "the signing secret needs at least 16 characters")
		}
	default:
		f.Add("kind", "the kind must be email or webhook, not %q", in.Kind)
	}
	events := []string{}
	for _, e := range in.Events {
		if !slices.Contains(Events, e) {
			f.Add("events", "unknown event %q: one of %s", e, strings.Join(Events, ", "))
		} else if !slices.Contains(events, e) {
			events = append(events, e)
		}
	}
	if len(events) == 0 {
		f.Add("events", "choose at least one event")
	}
	var configs []string
	for _, id := range in.ConfigIDs {
		if id == "" || slices.Contains(configs, id) {
			continue
		}
		cfg, err := s.st.GetConfig(ctx, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && cfg.UserID != actor.ID {
			f.Add("configIds", "no configuration %q of yours", id)
			continue
		}
		if err != nil {
			return err
		}
		configs = append(configs, id)
	}
	if err := f.Err(); err != nil {
		return err
	}
	c.Name, c.Kind, c.Preset, c.Target, c.Secret = in.Name, in.Kind, in.Preset, in.Target, in.Secret
	c.Events, c.ConfigIDs, c.Enabled = events, configs, in.Enabled
	return nil
}

func newSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// EmailUnavailable is why e-mail channels cannot be added (NoMail), or "" when the
// server sends e-mail.
func (s *Service) EmailUnavailable() string {
	if s.noMail {
		return NoMail
	}
	return ""
}

// List lists actor's channels.
func (s *Service) List(ctx context.Context, actor store.User) ([]store.Channel, error) {
	list, err := s.st.ListChannels(ctx, actor.ID)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i], err = unseal(s.keys, list[i]); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// Get returns one of actor's channels; another user's is not found.
func (s *Service) Get(ctx context.Context, actor store.User, id string) (store.Channel, error) {
	c, err := s.st.GetChannel(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && c.UserID != actor.ID {
		return store.Channel{}, apperr.New(apperr.NotFound, "no such notification channel")
	}
	if err != nil {
		return store.Channel{}, err
	}
	return unseal(s.keys, c)
}

// Create adds a channel of actor's.
func (s *Service) Create(ctx context.Context, actor store.User, in Input) (store.Channel, error) {
	now := s.now().UTC()
	c := store.Channel{UserID: actor.ID, CreatedAt: now, UpdatedAt: now}
	if err := s.validate(ctx, actor, in, &c); err != nil {
		return store.Channel{}, err
	}
	sealed, err := seal(s.keys, c)
	if err != nil {
		return store.Channel{}, err
	}
	if err := s.st.CreateChannel(ctx, &sealed); err != nil {
		return store.Channel{}, fmt.Errorf("create notification channel: %w", err)
	}
	c.ID = sealed.ID
	return c, nil
}

// Update changes one of actor's channels.
func (s *Service) Update(ctx context.Context, actor store.User, id string, in Input) (store.Channel, error) {
	c, err := s.Get(ctx, actor, id)
	if err != nil {
		return store.Channel{}, err
	}
	if err := s.validate(ctx, actor, in, &c); err != nil {
		return store.Channel{}, err
	}
	c.UpdatedAt = s.now().UTC()
	sealed, err := seal(s.keys, c)
	if err != nil {
		return store.Channel{}, err
	}
	if err := s.st.UpdateChannel(ctx, &sealed); err != nil {
		return store.Channel{}, fmt.Errorf("update notification channel: %w", err)
	}
	return c, nil
}

// Delete deletes one of actor's channels; its undelivered messages are dropped,
// never sent. It returns how many were dropped.
func (s *Service) Delete(ctx context.Context, actor store.User, id string) (int, error) {
	c, err := s.Get(ctx, actor, id)
	if err != nil {
		return 0, err
	}
	n, err := s.st.DeleteChannel(ctx, id, s.now().UTC(), fmt.Sprintf("the channel %q was deleted before it was sent", c.Name))
	if err != nil {
		return 0, fmt.Errorf("delete notification channel: %w", err)
	}
	if n > 0 {
		s.log.Info("notification channel deleted; its queued messages dropped", "channel", id, "dropped", n)
	}
	return n, nil
}

// TestTimeout bounds "send test".
const TestTimeout = 45 * time.Second

// Test sends a test message over one of actor's channels at once (not through the
// outbox), records the attempt and returns it: the remote's answer or the error.
func (s *Service) Test(ctx context.Context, actor store.User, id string) (store.Attempt, error) {
	c, err := s.Get(ctx, actor, id)
	if err != nil {
		return store.Attempt{}, err
	}
	now := s.now().UTC()
	p := Payload{Version: Version, Event: EventTest, Title: "Test: notification channel " + fmt.Sprintf("%q", c.Name),
		Text: "This is a test from backapp. If you read it, the channel works.", Timestamp: now}
	if s.baseURL != "" {
		p.URL = s.baseURL + "/settings/notifications"
	}
	body, err := json.Marshal(p)
	if err != nil {
		return store.Attempt{}, err
	}
	tctx, cancel := context.WithTimeout(ctx, TestTimeout)
	defer cancel()
	raw, err := s.st.GetChannel(ctx, c.ID) // as stored: the sender opens its secret as the outbox's
	if err != nil {
		return store.Attempt{}, err
	}
	d := s.send.Deliver(tctx, raw, "test-"+newSecret()[:16], body)
	a := d.Attempt(EventTest, now)
	a.ChannelID = c.ID
	if err := s.st.AddAttempt(ctx, &a); err != nil {
		return a, fmt.Errorf("record test attempt: %w", err)
	}
	return a, nil
}

// Attempts lists the recent attempts of one of actor's channels, the newest first.
func (s *Service) Attempts(ctx context.Context, actor store.User, id string, limit int) ([]store.Attempt, error) {
	if _, err := s.Get(ctx, actor, id); err != nil {
		return nil, err
	}
	return s.st.ListAttempts(ctx, id, min(max(limit, 1), 200))
}
