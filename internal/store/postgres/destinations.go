package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/backapp/backapp/internal/store"
)

const destinationColumns = `id, user_id, name, kind, settings, credentials, created_at, updated_at`

// destinationOrder lists shared destinations first, then oldest first.
const destinationOrder = ` ORDER BY user_id IS NOT NULL, created_at, id`

func scanDestination(row pgx.Row, d *store.Destination) error {
	var userID *string
	var settings []byte
	var creds []byte
	if err := row.Scan(&d.ID, &userID, &d.Name, &d.Kind, &settings, &creds, &d.CreatedAt, &d.UpdatedAt); err != nil {
		return err
	}
	d.UserID = ""
	if userID != nil {
		d.UserID = *userID
	}
	d.Settings = json.RawMessage(settings)
	d.Credentials = nil
	if len(creds) > 0 {
		d.Credentials = creds
	}
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return nil
}

// nullable stores "" as NULL (shared destinations have no owner).
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// settingsJSON is the settings column's value: "{}" for none.
func settingsJSON(op string, raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "{}", nil
	}
	if !json.Valid(raw) {
		return "", fmt.Errorf("%s: settings are not valid JSON", op)
	}
	return string(raw), nil
}

// credentialsValue stores no credentials as NULL.
func credentialsValue(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// CreateDestination inserts d.
func (s *Store) CreateDestination(ctx context.Context, d store.Destination) error {
	op := "create destination " + d.Name
	if !validID(d.ID) || (d.UserID != "" && !validID(d.UserID)) {
		return fmt.Errorf("%s: invalid id %q or owner %q", op, d.ID, d.UserID)
	}
	settings, err := settingsJSON(op, d.Settings)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO storage_destinations (`+destinationColumns+`) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)`,
		d.ID, nullable(d.UserID), d.Name, d.Kind, settings, credentialsValue(d.Credentials), norm(d.CreatedAt), norm(d.UpdatedAt))
	return mapErr(op, err)
}

// GetDestination returns the destination with the given id.
func (s *Store) GetDestination(ctx context.Context, id string) (store.Destination, error) {
	op := "get destination " + id
	if !validID(id) {
		return store.Destination{}, notFound(op)
	}
	var d store.Destination
	row := s.pool.QueryRow(ctx, `SELECT `+destinationColumns+` FROM storage_destinations WHERE id = $1`, id)
	if err := scanDestination(row, &d); err != nil {
		return store.Destination{}, mapErr(op, err)
	}
	return d, nil
}

// ListDestinations returns the shared destinations and userID's own.
func (s *Store) ListDestinations(ctx context.Context, userID string) ([]store.Destination, error) {
	op := "list destinations of user " + userID
	if !validID(userID) {
		// No user has this id: only the shared destinations.
		return s.listDestinations(ctx, op, `SELECT `+destinationColumns+` FROM storage_destinations WHERE user_id IS NULL`+destinationOrder)
	}
	return s.listDestinations(ctx, op,
		`SELECT `+destinationColumns+` FROM storage_destinations WHERE user_id IS NULL OR user_id = $1`+destinationOrder, userID)
}

// ListAllDestinations returns every destination.
func (s *Store) ListAllDestinations(ctx context.Context) ([]store.Destination, error) {
	return s.listDestinations(ctx, "list all destinations", `SELECT `+destinationColumns+` FROM storage_destinations`+destinationOrder)
}

func (s *Store) listDestinations(ctx context.Context, op, query string, args ...any) ([]store.Destination, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []store.Destination
	for rows.Next() {
		var d store.Destination
		if err := scanDestination(rows, &d); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, d)
	}
	return out, mapErr(op, rows.Err())
}

// UpdateDestination replaces d's name, settings, credentials and UpdatedAt.
func (s *Store) UpdateDestination(ctx context.Context, d store.Destination) error {
	op := "update destination " + d.ID
	if !validID(d.ID) {
		return notFound(op)
	}
	settings, err := settingsJSON(op, d.Settings)
	if err != nil {
		return err
	}
	return s.execOne(ctx, op,
		`UPDATE storage_destinations SET name = $1, settings = $2::jsonb, credentials = $3, updated_at = $4 WHERE id = $5`,
		d.Name, settings, credentialsValue(d.Credentials), norm(d.UpdatedAt), d.ID)
}

// DeleteDestination deletes the destination with the given id.
func (s *Store) DeleteDestination(ctx context.Context, id string) error {
	op := "delete destination " + id
	if !validID(id) {
		return notFound(op)
	}
	return s.execOne(ctx, op, `DELETE FROM storage_destinations WHERE id = $1`, id)
}
