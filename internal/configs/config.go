package configs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// Execution modes.
const (
	ModeAgent  = "agent"
	ModeServer = "server"
)

// Backup types.
const (
	TypeFull        = "full"
	TypeIncremental = "incremental"
)

// Codecs, as the engine names them.
const (
	CompressionZstd = "zstd"
	CompressionGzip = "gzip"
	CompressionNone = "none"
)

// Encryption modes. EncryptGenerate is input only: saving turns it into EncryptAge
// with a key pair generated for the occasion, whose identity is shown once.
const (
	EncryptNone       = "none"
	EncryptAge        = "age"
	EncryptPassphrase = "passphrase"
	EncryptGenerate   = "generate"
)

// Config is a backup configuration: the seed's BackupConfig with executionMode and
// agentId. Its JSON is the API's wire format.
type Config struct {
	ID            string      `json:"id,omitempty"`
	UserID        string      `json:"userId,omitempty"`
	Name          string      `json:"name"`
	Enabled       bool        `json:"enabled"`
	ExecutionMode string      `json:"executionMode"`
	AgentID       *string     `json:"agentId"`
	Sources       []Source    `json:"sources"`
	Destination   Destination `json:"destination"`
	// Schedule is nil for a configuration that runs only when started by hand.
	Schedule  *Schedule `json:"schedule"`
	Options   Options   `json:"options"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// Agent returns the agent id, "" when none.
func (c Config) Agent() string {
	if c.AgentID == nil {
		return ""
	}
	return *c.AgentID
}

// Source is one directory or file to back up, with its patterns (doublestar globs;
// see internal/engine/scan).
type Source struct {
	Path            string   `json:"path"`
	IncludePatterns []string `json:"includePatterns,omitempty"`
	ExcludePatterns []string `json:"excludePatterns,omitempty"`
}

// Destination names the storage destination; "" is the built-in local one.
type Destination struct {
	DestinationID string `json:"destinationId"`
}

// Schedule is a cron expression read in an IANA timezone.
type Schedule struct {
	CronExpression string `json:"cronExpression"`
	Timezone       string `json:"timezone"`
}

// Options say how to back up. The field names are the ones the agent reads through
// runs.ParseAgentConfig (type, compression, compressionLevel, encryption, recipients,
// passphrase, followSymlinks, onError, bandwidth, fullEvery, hooks); the rest is a
// superset.
type Options struct {
	Type string `json:"type"` // full | incremental
	// FullEvery: for incrementals, a full backup every N runs (0: only the first).
	FullEvery int `json:"fullEvery,omitempty"`
	// FullEveryDays: for incrementals, a full backup when the last full one is N days
	// old (0: off).
	FullEveryDays    int    `json:"fullEveryDays,omitempty"`
	Compression      Codec  `json:"compression"`
	CompressionLevel int    `json:"compressionLevel,omitempty"` // 0: the codec's default
	Encryption       bool   `json:"encryption"`
	EncryptionMode   string `json:"encryptionMode,omitempty"` // none | age | passphrase (| generate on input)
	// Recipients are age public keys ("age1…"). The server never holds identities.
	Recipients []string `json:"recipients,omitempty"`
	// Passphrase is stored for the agent to use; the API never sends it back
	// (PassphraseSet says whether one is saved).
	Passphrase    string `json:"passphrase,omitempty"`
	PassphraseSet bool   `json:"passphraseSet,omitempty"`
	// PassphraseSealed is how the service stores a passphrase: sealed under the
	// master key (purpose PassphrasePurpose, the config id as context), base64.
	PassphraseSealed string `json:"passphraseSealed,omitempty"`
	FollowSymlinks   bool   `json:"followSymlinks,omitempty"`
	OnError          string `json:"onError,omitempty"` // skip (default) | fail
	// Bandwidth limit in KB/s (the seed's unit); 0 is unlimited.
	Bandwidth int64 `json:"bandwidth,omitempty"`
	// Retention; zero fields disable their rule, all zero keeps everything.
	RetentionDays int    `json:"retentionDays,omitempty"`
	KeepLast      int    `json:"keepLast,omitempty"`
	KeepDaily     int    `json:"keepDaily,omitempty"`
	KeepWeekly    int    `json:"keepWeekly,omitempty"`
	KeepMonthly   int    `json:"keepMonthly,omitempty"`
	Hooks         *Hooks `json:"hooks,omitempty"`
	// AlertAfterHours is how long without a successful backup raises an alert
	// (internal/alerts); 0 is twice the schedule's interval.
	AlertAfterHours int `json:"alertAfterHours,omitempty"`
}

// Hooks are commands run on the machine that runs the backup, before and after it.
type Hooks struct {
	Pre            string `json:"pre,omitempty"`
	Post           string `json:"post,omitempty"`
	TimeoutSeconds int    `json:"timeoutSeconds,omitempty"`
}

// Codec is a compression name. It reads the seed's boolean too (true: zstd, false:
// none), so configurations written in the seed's shape stay readable.
type Codec string

// UnmarshalJSON accepts "zstd" | "gzip" | "none" (or anything else, which Validate
// names), true, false and null.
func (c *Codec) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch string(b) {
	case "null":
		*c = ""
		return nil
	case "true":
		*c = CompressionZstd
		return nil
	case "false":
		*c = CompressionNone
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("compression must be \"zstd\", \"gzip\" or \"none\"")
	}
	*c = Codec(s)
	return nil
}

// FromStore reads a stored row. Documents in the seed's shape (sources as a list
// of paths, compression as a boolean) are read as well.
func FromStore(r store.BackupConfig) (Config, error) {
	c := Config{ID: r.ID, UserID: r.UserID, Name: r.Name, Enabled: r.Enabled, ExecutionMode: r.ExecutionMode,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.AgentID != "" {
		id := r.AgentID
		c.AgentID = &id
	}
	if len(r.Sources) > 0 && string(r.Sources) != "null" {
		if err := json.Unmarshal(r.Sources, &c.Sources); err != nil {
			c.Sources = nil
			var paths []string
			if json.Unmarshal(r.Sources, &paths) != nil {
				return c, fmt.Errorf("config %s: sources: %w", r.ID, err)
			}
			for _, p := range paths {
				c.Sources = append(c.Sources, Source{Path: p})
			}
		}
	}
	if len(r.Destination) > 0 && string(r.Destination) != "null" {
		if err := json.Unmarshal(r.Destination, &c.Destination); err != nil {
			return c, fmt.Errorf("config %s: destination: %w", r.ID, err)
		}
	}
	if len(r.Schedule) > 0 && string(r.Schedule) != "null" {
		var s Schedule
		if err := json.Unmarshal(r.Schedule, &s); err != nil {
			return c, fmt.Errorf("config %s: schedule: %w", r.ID, err)
		}
		if s.CronExpression != "" {
			c.Schedule = &s
		}
	}
	if len(r.Options) > 0 && string(r.Options) != "null" {
		if err := json.Unmarshal(r.Options, &c.Options); err != nil {
			return c, fmt.Errorf("config %s: options: %w", r.ID, err)
		}
	}
	o := &c.Options
	if o.EncryptionMode == "" {
		switch {
		case !o.Encryption:
			o.EncryptionMode = EncryptNone
		case len(o.Recipients) > 0:
			o.EncryptionMode = EncryptAge
		case o.Passphrase != "":
			o.EncryptionMode = EncryptPassphrase
		}
	}
	o.PassphraseSet = o.Passphrase != "" || o.PassphraseSealed != ""
	return c, nil
}

// toStore is c as a row. c must have been validated.
func toStore(c Config) (store.BackupConfig, error) {
	r := store.BackupConfig{ID: c.ID, UserID: c.UserID, Name: c.Name, Enabled: c.Enabled, ExecutionMode: c.ExecutionMode,
		AgentID: c.Agent(), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	var err error
	if r.Sources, err = json.Marshal(c.Sources); err != nil {
		return r, err
	}
	if r.Destination, err = json.Marshal(c.Destination); err != nil {
		return r, err
	}
	if c.Schedule != nil {
		if r.Schedule, err = json.Marshal(c.Schedule); err != nil {
			return r, err
		}
	}
	o := c.Options
	o.PassphraseSet = false
	if r.Options, err = json.Marshal(o); err != nil {
		return r, err
	}
	return r, nil
}

// Public is c as the API and pages show it: the passphrase is never sent back.
func (c Config) Public() Config {
	c.Options.PassphraseSet = c.Options.Passphrase != "" || c.Options.PassphraseSealed != ""
	c.Options.Passphrase, c.Options.PassphraseSealed = "", ""
	return c
}
