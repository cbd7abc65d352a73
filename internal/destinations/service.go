package destinations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/audit"
	"github.com/backapp/backapp/internal/secrets"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
)

// SealPurpose is the secrets.Keys purpose credentials are sealed under; the row id is
// the context, so a sealed blob copied to another row does not open.
const SealPurpose = "destination"

// LocalURLPurpose derives the key that signs the built-in local destination's URLs.
const LocalURLPurpose = "local storage urls"

// BuiltInName is the name the built-in local destination is created with.
const BuiltInName = "Server disk"

// Store is what the service needs from the database: the destinations, and the audit
// log it writes.
type Store interface {
	store.Destinations
	audit.Store
}

// Config configures the Service.
type Config struct {
	Store  Store         // required
	Keys   *secrets.Keys // required
	Logger *slog.Logger  // slog.Default() when nil
	Now    func() time.Time
	// LocalDir is the built-in local destination's directory (<data-dir>/storage).
	LocalDir string
	// LocalBaseURL is the public URL the LocalHandler is mounted at
	// (<base-url>/storage/local/).
	LocalBaseURL string
	// HTTPClient is used to talk to S3 servers (nil: the SDK's default).
	HTTPClient *http.Client
	// CacheTTL is how long Resolve reuses a destination before reading it again, so
	// that a change made on another replica takes effect (0: one minute).
	CacheTTL time.Duration
	// TestTimeout bounds a connection test or bucket listing (0: 20 seconds).
	TestTimeout time.Duration
}

// Service manages destinations. It is safe for concurrent use.
type Service struct {
	cfg      Config
	reporter atomic.Pointer[CheckReporter]
	store    Store
	keys     *secrets.Keys
	log      *slog.Logger
	now      func() time.Time
	local    *storage.Local
	localID  string

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	owner   string // "" for shared
	dest    storage.Destination
	expires time.Time
}

// New opens the built-in local destination (creating its directory) and makes sure
// its row exists, creating it on first start.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Keys == nil {
		return nil, errors.New("destinations: Store and Keys are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = time.Minute
	}
	if cfg.TestTimeout <= 0 {
		cfg.TestTimeout = 20 * time.Second
	}
	local, err := storage.NewLocal(cfg.LocalDir, cfg.Keys.Derive(LocalURLPurpose), cfg.LocalBaseURL)
	if err != nil {
		return nil, fmt.Errorf("built-in local destination: %w", err)
	}
	s := &Service{cfg: cfg, store: cfg.Store, keys: cfg.Keys, log: cfg.Logger, now: cfg.Now, local: local, cache: map[string]cached{}}
	if s.localID, err = s.ensureBuiltIn(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// ensureBuiltIn returns the id of the shared local destination, creating its row when
// missing. Replicas starting together may race: the store's unique index lets one
// win and the others read its row.
func (s *Service) ensureBuiltIn(ctx context.Context) (string, error) {
	find := func() (string, error) {
		list, err := s.store.ListDestinations(ctx, "")
		if err != nil {
			return "", fmt.Errorf("find the built-in local destination: %w", err)
		}
		for _, d := range list {
			if d.Kind == store.DestinationLocal {
				return d.ID, nil
			}
		}
		return "", nil
	}
	id, err := find()
	if err != nil || id != "" {
		return id, err
	}
	now := s.now().UTC()
	d := store.Destination{ID: newID(), Name: BuiltInName, Kind: store.DestinationLocal, Settings: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now}
	err = s.store.CreateDestination(ctx, d)
	if errors.Is(err, store.ErrConflict) {
		if id, err = find(); err == nil && id == "" {
			err = errors.New("find the built-in local destination: another server created it, but it is not there")
		}
		return id, err
	}
	if err != nil {
		return "", fmt.Errorf("create the built-in local destination: %w", err)
	}
	s.log.Info("created the built-in local destination", "id", d.ID, "dir", s.local.Dir())
	return d.ID, nil
}

func newID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// LocalHandler serves the built-in local destination's pre-signed URLs. Mount it at
// the path of Config.LocalBaseURL without http.StripPrefix.
func (s *Service) LocalHandler() http.Handler { return s.local }

// BuiltInID is the id of the built-in local destination.
func (s *Service) BuiltInID() string { return s.localID }

// LocalDir is the built-in local destination's directory.
func (s *Service) LocalDir() string { return s.local.Dir() }

// Destination is a destination as people see it: settings, and whether credentials
// are saved, never the credentials themselves.
type Destination struct {
	ID      string
	UserID  string // "" for the built-in (shared) destination
	Name    string
	Kind    string // store.DestinationS3 or store.DestinationLocal
	BuiltIn bool
	Settings
	HasCredentials bool
	// AccessKeyHint is the saved access key id, masked (MaskAccessKey).
	AccessKeyHint string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// view turns a row into what people see, opening the credentials only to mask the
// access key id.
func (s *Service) view(d store.Destination) Destination {
	v := Destination{
		ID: d.ID, UserID: d.UserID, Name: d.Name, Kind: d.Kind, BuiltIn: d.ID == s.localID,
		HasCredentials: len(d.Credentials) > 0, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
	if err := json.Unmarshal(d.Settings, &v.Settings); err != nil {
		s.log.Warn("destination settings unreadable", "id", d.ID, "err", err)
	}
	if v.HasCredentials {
		if c, err := s.open(d); err == nil {
			v.AccessKeyHint = MaskAccessKey(c.AccessKeyID)
		} else {
			s.log.Warn("destination credentials do not open", "id", d.ID, "err", err)
		}
	}
	return v
}

func (s *Service) seal(id string, c Credentials) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	sealed, err := s.keys.Seal(SealPurpose, b, []byte(id))
	if err != nil {
		return nil, fmt.Errorf("seal credentials of destination %s: %w", id, err)
	}
	return sealed, nil
}

func (s *Service) open(d store.Destination) (Credentials, error) {
	var c Credentials
	if len(d.Credentials) == 0 {
		return c, nil
	}
	b, err := s.keys.Open(SealPurpose, d.Credentials, []byte(d.ID))
	if err != nil {
		return c, fmt.Errorf("open credentials of destination %s: %w", d.ID, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("open credentials of destination %s: %w", d.ID, err)
	}
	return c, nil
}

func errNoDestination(id string) error {
	return apperr.New(apperr.NotFound, "no destination %q: it does not exist or is not yours", id)
}

// visible reports whether actor may see d: their own, the shared ones, and as an
// administrator every one.
func visible(actor store.User, d store.Destination) bool {
	return d.UserID == "" || actor.Sees(d.UserID)
}

// get returns the row id if actor may see it.
func (s *Service) get(ctx context.Context, actor store.User, id string) (store.Destination, error) {
	d, err := s.store.GetDestination(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !visible(actor, d)) {
		return store.Destination{}, errNoDestination(id)
	}
	if err != nil {
		return store.Destination{}, fmt.Errorf("get destination %s: %w", id, err)
	}
	return d, nil
}

// List returns the destinations actor sees: the built-in one first, then their own,
// oldest first. With all set, an administrator sees everyone's; others get Forbidden.
func (s *Service) List(ctx context.Context, actor store.User, all bool) ([]Destination, error) {
	var rows []store.Destination
	var err error
	if all {
		if !actor.IsAdmin() {
			return nil, apperr.New(apperr.Forbidden, "only administrators can list everyone's destinations")
		}
		rows, err = s.store.ListAllDestinations(ctx)
	} else {
		rows, err = s.store.ListDestinations(ctx, actor.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("list destinations: %w", err)
	}
	out := make([]Destination, len(rows))
	for i, d := range rows {
		out[i] = s.view(d)
	}
	return out, nil
}

// Get returns one destination actor may see; others are NotFound, as if they did
// not exist.
func (s *Service) Get(ctx context.Context, actor store.User, id string) (Destination, error) {
	d, err := s.get(ctx, actor, id)
	if err != nil {
		return Destination{}, err
	}
	return s.view(d), nil
}

// Create saves a new S3 destination owned by actor. Every problem with in is
// reported at once; the credentials are required and sealed before they are stored.
func (s *Service) Create(ctx context.Context, actor store.User, in Input) (Destination, error) {
	in.Name = strings.TrimSpace(in.Name)
	in.Settings, in.Credentials = in.Settings.normalize(), in.Credentials.normalize()
	f := apperr.Fields{}
	checkName(f, in.Name)
	in.Settings.check(f, true)
	in.Credentials.check(f, credsRequired)
	if err := f.Err(); err != nil {
		return Destination{}, err
	}
	now := s.now().UTC()
	d := store.Destination{ID: newID(), UserID: actor.ID, Name: in.Name, Kind: store.DestinationS3, CreatedAt: now, UpdatedAt: now}
	var err error
	if d.Settings, err = json.Marshal(in.Settings); err != nil {
		return Destination{}, err
	}
	if d.Credentials, err = s.seal(d.ID, in.Credentials); err != nil {
		return Destination{}, err
	}
	if err := s.store.CreateDestination(ctx, d); err != nil {
		return Destination{}, s.writeErr(err, in.Name)
	}
	s.audit(ctx, actor, "destination.create", d.ID, fmt.Sprintf("%s (bucket %s)", d.Name, in.Bucket))
	return s.view(d), nil
}

// Update changes an S3 destination of actor's. Empty credentials keep the saved ones;
// new ones replace them. The built-in destination cannot be changed, and nobody
// changes another user's (administrators may see and delete them).
func (s *Service) Update(ctx context.Context, actor store.User, id string, in Input) (Destination, error) {
	d, err := s.get(ctx, actor, id)
	if err != nil {
		return Destination{}, err
	}
	if err := s.mayChange(actor, d, "change"); err != nil {
		return Destination{}, err
	}
	in.Name = strings.TrimSpace(in.Name)
	in.Settings, in.Credentials = in.Settings.normalize(), in.Credentials.normalize()
	f := apperr.Fields{}
	checkName(f, in.Name)
	in.Settings.check(f, true)
	in.Credentials.check(f, credsOptional)
	if err := f.Err(); err != nil {
		return Destination{}, err
	}
	d.Name = in.Name
	d.UpdatedAt = s.now().UTC()
	if d.Settings, err = json.Marshal(in.Settings); err != nil {
		return Destination{}, err
	}
	if !in.Credentials.empty() {
		if d.Credentials, err = s.seal(d.ID, in.Credentials); err != nil {
			return Destination{}, err
		}
	}
	if err := s.store.UpdateDestination(ctx, d); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Destination{}, errNoDestination(id)
		}
		return Destination{}, s.writeErr(err, in.Name)
	}
	s.forget(d.ID)
	detail := d.Name
	if !in.Credentials.empty() {
		detail += "; new credentials"
	}
	s.audit(ctx, actor, "destination.update", d.ID, detail)
	return s.view(d), nil
}

// Delete deletes a destination: actor's own, or anyone's for an administrator. The
// built-in one cannot be deleted. Objects already stored in it are not touched.
func (s *Service) Delete(ctx context.Context, actor store.User, id string) error {
	d, err := s.get(ctx, actor, id)
	if err != nil {
		return err
	}
	if d.ID == s.localID {
		return apperr.New(apperr.Forbidden, "the built-in local destination cannot be deleted")
	}
	if !actor.Sees(d.UserID) {
		return errNoDestination(id)
	}
	if err := s.store.DeleteDestination(ctx, d.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errNoDestination(id)
		}
		return fmt.Errorf("delete destination %s: %w", id, err)
	}
	s.forget(d.ID)
	s.audit(ctx, actor, "destination.delete", d.ID, d.Name)
	return nil
}

func (s *Service) mayChange(actor store.User, d store.Destination, what string) error {
	if d.ID == s.localID {
		return apperr.New(apperr.Forbidden, "the built-in local destination cannot be changed: it is configured by the server's --data-dir and --base-url")
	}
	if d.UserID != actor.ID {
		return apperr.New(apperr.Forbidden, "only the destination's owner can %s it", what)
	}
	return nil
}

func (s *Service) writeErr(err error, name string) error {
	if errors.Is(err, store.ErrConflict) {
		return apperr.Invalidf(FieldName, "you already have a destination named %q; choose another name", name)
	}
	return fmt.Errorf("save destination %q: %w", name, err)
}

func (s *Service) audit(ctx context.Context, actor store.User, action, target, detail string) {
	audit.Writer{Store: s.store, Log: s.log, Now: s.now}.Write(ctx, actor.ID, action, target, "", detail)
}

// forget drops a destination from Resolve's cache after it changed here.
func (s *Service) forget(id string) {
	s.mu.Lock()
	delete(s.cache, id)
	s.mu.Unlock()
}

// Resolve returns the storage behind destinationID for userID's backups and
// restores, for the engine and the agent API. "" means the built-in local
// destination. Another user's destination is NotFound, as one that does not exist
// (administrators get no exception here: backups go to their owner's storage only).
// Destinations are cached for Config.CacheTTL; changes made through this Service take
// effect at once.
func (s *Service) Resolve(ctx context.Context, userID, destinationID string) (storage.Destination, error) {
	if destinationID == "" || destinationID == s.localID {
		return s.local, nil
	}
	now := s.now()
	s.mu.Lock()
	c, ok := s.cache[destinationID]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		if c.owner != "" && c.owner != userID {
			return nil, errNoDestination(destinationID)
		}
		return c.dest, nil
	}
	d, err := s.store.GetDestination(ctx, destinationID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.UserID != "" && d.UserID != userID) {
		return nil, errNoDestination(destinationID)
	}
	if err != nil {
		return nil, fmt.Errorf("resolve destination %s: %w", destinationID, err)
	}
	dest, err := s.storageFor(d, nil, nil)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cache[d.ID] = cached{owner: d.UserID, dest: dest, expires: now.Add(s.cfg.CacheTTL)}
	s.mu.Unlock()
	return dest, nil
}

// storageFor builds the storage of row d; settings and creds, when not nil, replace
// the saved ones (testing changes in a form before saving them).
func (s *Service) storageFor(d store.Destination, settings *Settings, creds *Credentials) (storage.Destination, error) {
	if d.Kind == store.DestinationLocal {
		return s.local, nil
	}
	var set Settings
	if settings != nil {
		set = *settings
	} else if err := json.Unmarshal(d.Settings, &set); err != nil {
		return nil, fmt.Errorf("destination %s: settings: %w", d.ID, err)
	}
	var c Credentials
	if creds != nil && !creds.empty() {
		c = *creds
	} else {
		var err error
		if c, err = s.open(d); err != nil {
			return nil, apperr.Wrap(apperr.Internal, err, "the saved credentials of destination %q cannot be decrypted (was the master key changed?); enter them again", d.Name)
		}
	}
	return s.newS3(set, c)
}

func (s *Service) newS3(set Settings, c Credentials) (*storage.S3, error) {
	cfg := s3Config(set, c)
	cfg.HTTPClient = s.cfg.HTTPClient
	dest, err := storage.NewS3(cfg)
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, err, "%s", err.Error())
	}
	return dest, nil
}
