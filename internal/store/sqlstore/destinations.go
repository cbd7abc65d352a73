package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/backapp/backapp/internal/store"
)

const destinationColumns = `id, user_id, name, kind, settings, credentials, created_at, updated_at`

// destinationOrder lists shared destinations first, then oldest first.
const destinationOrder = ` ORDER BY user_id IS NOT NULL, created_at, id`

func scanDestination(row scanner, d *store.Destination) error {
	var userID sql.NullString
	var settings string
	var creds []byte
	if err := row.Scan(&d.ID, &userID, &d.Name, &d.Kind, &settings, &creds,
		timeCol{&d.CreatedAt}, timeCol{&d.UpdatedAt}); err != nil {
		return err
	}
	d.UserID = userID.String
	d.Settings = json.RawMessage(settings)
	d.Credentials = nil
	if len(creds) > 0 {
		d.Credentials = creds
	}
	return nil
}

// settingsText is the settings column's value: "{}" for none.
func settingsText(op string, raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "{}", nil
	}
	if !json.Valid(raw) {
		return "", fmt.Errorf("%s: settings are not valid JSON", op)
	}
	return string(raw), nil
}

// credentialsValue stores no credentials as NULL.
func credentialsValue(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// CreateDestination inserts d.
func (s *Store) CreateDestination(ctx context.Context, d store.Destination) error {
	op := "create destination " + d.Name
	if !s.validID(d.ID) || (d.UserID != "" && !s.validID(d.UserID)) {
		return fmt.Errorf("%s: invalid id %q or owner %q", op, d.ID, d.UserID)
	}
	settings, err := settingsText(op, d.Settings)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, `INSERT INTO storage_destinations (`+destinationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, nullStr(d.UserID), d.Name, d.Kind, settings, credentialsValue(d.Credentials), s.t(d.CreatedAt), s.t(d.UpdatedAt))
	return mapErr(op, err)
}

// GetDestination returns the destination with the given id.
func (s *Store) GetDestination(ctx context.Context, id string) (store.Destination, error) {
	if !s.validID(id) {
		return store.Destination{}, notFound("get destination " + id)
	}
	var d store.Destination
	row := s.queryRow(ctx, `SELECT `+destinationColumns+` FROM storage_destinations WHERE id = ?`, id)
	if err := scanDestination(row, &d); err != nil {
		return store.Destination{}, mapErr("get destination "+id, err)
	}
	return d, nil
}

// ListDestinations returns the shared destinations and userID's own.
func (s *Store) ListDestinations(ctx context.Context, userID string) ([]store.Destination, error) {
	op := "list destinations of user " + userID
	if !s.validID(userID) {
		// No user has this id: only the shared destinations.
		return s.listDestinations(ctx, op, `SELECT `+destinationColumns+` FROM storage_destinations WHERE user_id IS NULL`+destinationOrder)
	}
	return s.listDestinations(ctx, op,
		`SELECT `+destinationColumns+` FROM storage_destinations WHERE user_id IS NULL OR user_id = ?`+destinationOrder, userID)
}

// ListAllDestinations returns every destination.
func (s *Store) ListAllDestinations(ctx context.Context) ([]store.Destination, error) {
	return s.listDestinations(ctx, "list all destinations", `SELECT `+destinationColumns+` FROM storage_destinations`+destinationOrder)
}

func (s *Store) listDestinations(ctx context.Context, op, query string, args ...any) ([]store.Destination, error) {
	return queryAll(ctx, s, op, query, scanDestination, args...)
}

// UpdateDestination replaces d's name, settings, credentials and UpdatedAt.
func (s *Store) UpdateDestination(ctx context.Context, d store.Destination) error {
	op := "update destination " + d.ID
	if !s.validID(d.ID) {
		return notFound(op)
	}
	settings, err := settingsText(op, d.Settings)
	if err != nil {
		return err
	}
	return s.execOne(ctx, op,
		`UPDATE storage_destinations SET name = ?, settings = ?, credentials = ?, updated_at = ? WHERE id = ?`,
		d.Name, settings, credentialsValue(d.Credentials), s.t(d.UpdatedAt), d.ID)
}

// DeleteDestination deletes the destination with the given id.
func (s *Store) DeleteDestination(ctx context.Context, id string) error {
	return s.execID(ctx, "delete destination "+id, id, `DELETE FROM storage_destinations WHERE id = ?`)
}
