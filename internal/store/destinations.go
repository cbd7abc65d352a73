package store

import (
	"context"
	"encoding/json"
	"time"
)

// Destination kinds.
const (
	DestinationS3    = "s3"
	DestinationLocal = "local"
)

// Destination is a place where archives are stored. Settings holds the kind's
// non-secret settings as JSON (internal/destinations owns their Go shape); the
// credentials are sealed under the master key with the row id as context and kept in
// Credentials, which the store never looks into.
type Destination struct {
	ID string
	// UserID owns the destination; "" marks a shared one (the built-in local
	// destination), which every user may use.
	UserID      string
	Name        string
	Kind        string // DestinationS3 or DestinationLocal
	Settings    json.RawMessage
	Credentials []byte // sealed; nil when the destination has none
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Destinations stores storage destinations (issue 3: S3 and local), with their
// credentials sealed under the master key.
type Destinations interface {
	// CreateDestination inserts d (ID and times set by the caller). A second
	// destination with the same name for the same owner, or a second shared local
	// destination, is ErrConflict.
	CreateDestination(ctx context.Context, d Destination) error
	GetDestination(ctx context.Context, id string) (Destination, error)
	// ListDestinations returns the shared destinations and, when userID is not
	// empty, that user's own: shared first, then oldest first.
	ListDestinations(ctx context.Context, userID string) ([]Destination, error)
	// ListAllDestinations returns every destination, shared first, then oldest first.
	ListAllDestinations(ctx context.Context) ([]Destination, error)
	// UpdateDestination replaces the name, settings, credentials and UpdatedAt of the
	// destination d.ID; owner, kind and CreatedAt never change.
	UpdateDestination(ctx context.Context, d Destination) error
	DeleteDestination(ctx context.Context, id string) error
}
