package sqlstore

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// How values are written and read back, the same for both databases: "" and empty
// JSON as NULL, ids as canonical UUID text. Times are the dialect's (Store.t).

type scanner interface{ Scan(dest ...any) error }

// norm is the time as stored: UTC, microseconds (PostgreSQL's precision, and the
// width of SQLite's text times).
func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func normPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := norm(*t)
	return &v
}

// timeLayout is SQLite's stored form; fixed width, so times compare correctly as text.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// timeCol scans a stored timestamp: time.Time from PostgreSQL, text from SQLite.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	var s string
	switch v := v.(type) {
	case time.Time:
		*c.t = v.UTC()
		return nil
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("scan time: unexpected %T", v)
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return fmt.Errorf("scan time: %w", err)
	}
	*c.t = t.UTC()
	return nil
}

// nullTimeCol scans a nullable stored timestamp into *(*time.Time).
type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(v any) error {
	if v == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(v); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

// jsonCol scans a nullable JSON column into a json.RawMessage (nil for NULL).
type jsonCol struct{ m *json.RawMessage }

func (c jsonCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.m = nil
	case string:
		*c.m = json.RawMessage(v)
	case []byte:
		*c.m = append(json.RawMessage(nil), v...)
	default:
		return fmt.Errorf("scan json: unexpected %T", v)
	}
	return nil
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func nullJSON(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	return string(m)
}

func jsonOr(m json.RawMessage, def string) string {
	if len(m) == 0 {
		return def
	}
	return string(m)
}

// newID gives an empty *id a new UUID v7.
func newID(op string, id *string) error {
	if *id != "" {
		return nil
	}
	v, err := newUUID(op)
	*id = v
	return err
}

func newUUID(op string) (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	return id.String(), nil
}

// validID reports whether id can name a row. Ids come from URLs; on PostgreSQL one
// that is not a UUID names no row, so callers get ErrNotFound (the uuid columns would
// refuse it with a type error instead). SQLite keeps ids as text and takes any.
func (s *Store) validID(id string) bool {
	if !s.d.uuidIDs {
		return true
	}
	_, err := uuid.Parse(id)
	return err == nil
}

// validIDs keeps the ids that can name a row.
func (s *Store) validIDs(ids []string) []string {
	var out []string
	for _, id := range ids {
		if s.validID(id) {
			out = append(out, id)
		}
	}
	return out
}

// placeholders returns "?, ?, …" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// scanIDs reads a one-column result of ids, each once.
func scanIDs(op string, rows interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close() error
}, err error) ([]string, error) {
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr(op, err)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, mapErr(op, rows.Err())
}
