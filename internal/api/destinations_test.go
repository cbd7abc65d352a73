package api_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/storage/s3test"
)

// record keeps every response body a test got, to check that none carries a secret.
type record struct{ bodies []string }

func (rec *record) keep(r response) response {
	rec.bodies = append(rec.bodies, r.Raw)
	return r
}

func (rec *record) noneContains(t *testing.T, secrets ...string) {
	t.Helper()
	for _, b := range rec.bodies {
		for _, s := range secrets {
			if strings.Contains(b, s) {
				t.Errorf("a response carries the secret %q: %s", s, b)
			}
		}
	}
}

func list(r response) []map[string]any {
	raw, _ := r.Body["destinations"].([]any)
	var out []map[string]any
	for _, x := range raw {
		m, _ := x.(map[string]any)
		out = append(out, m)
	}
	return out
}

func TestDestinationsAPI(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		s3cfg := s3test.NewConfig(t)
		e := start(t, db)
		rec := &record{}
		alice := e.Client()
		alice.Register("alice@example.com")
		bob := e.Client()
		bob.Register("bob@example.com")

		r := rec.keep(alice.JSON("GET", "/api/destinations", nil))
		want(t, r, http.StatusOK)
		if l := list(r); len(l) != 1 || l[0]["builtIn"] != true || l[0]["kind"] != "local" {
			t.Fatalf("a new user's destinations = %s, want the built-in local one", r.Raw)
		}
		builtIn, _ := list(r)[0]["id"].(string)

		settings := map[string]any{
			"endpoint": s3cfg.Endpoint, "region": s3cfg.Region, "bucket": s3cfg.Bucket, "pathStyle": true,
			"accessKeyId": s3cfg.AccessKey, "secretAccessKey": s3cfg.SecretKey,
		}
		with := func(kv ...any) map[string]any {
			m := map[string]any{}
			for k, v := range settings {
				m[k] = v
			}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		}

		// Offline validation: every problem at once.
		r = rec.keep(alice.JSON("POST", "/api/s3/validate", map[string]any{"endpoint": "ftp://x/y", "region": "Bad Region", "bucket": "B", "sse": "rot13", "secretAccessKey": "s"}))
		want(t, r, http.StatusBadRequest)
		fields, _ := r.Body["error"].(map[string]any)["fields"].(map[string]any)
		for _, f := range []string{"endpoint", "region", "bucket", "sse", "accessKeyId"} {
			if fields[f] == nil {
				t.Errorf("validate: no message for %s in %s", f, r.Raw)
			}
		}
		r = rec.keep(alice.JSON("POST", "/api/s3/validate", settings))
		want(t, r, http.StatusOK)

		// Before saving: buckets and a connection test with the form's keys.
		r = rec.keep(alice.JSON("POST", "/api/s3/buckets", with("bucket", "")))
		want(t, r, http.StatusOK)
		if !strings.Contains(r.Raw, `"`+s3cfg.Bucket+`"`) {
			t.Errorf("buckets = %s, want %s among them", r.Raw, s3cfg.Bucket)
		}
		r = rec.keep(alice.JSON("POST", "/api/s3/test-connection", settings))
		want(t, r, http.StatusOK)
		if r.Body["ok"] != true {
			t.Errorf("test-connection with good settings = %s", r.Raw)
		}
		closed := closedAddr(t)
		for _, c := range []struct {
			name   string
			body   map[string]any
			cause  string
			words  string
			field  string
			status int // of /api/s3/buckets
		}{
			{"wrong secret", with("secretAccessKey", s3cfg.SecretKey+"x"), "credentials", "wrong credentials", "accessKeyId", http.StatusBadRequest},
			{"missing bucket", with("bucket", "no-such-bucket-at-all"), "no-such-bucket", "does not exist", "bucket", http.StatusOK},
			{"closed port", with("endpoint", "http://"+closed), "unreachable", "connection refused", "endpoint", http.StatusBadRequest},
		} {
			r := rec.keep(alice.JSON("POST", "/api/s3/test-connection", c.body))
			want(t, r, http.StatusOK)
			msg, _ := r.Body["message"].(string)
			fields, _ := r.Body["fields"].(map[string]any)
			if r.Body["ok"] != false || r.Body["cause"] != c.cause || !strings.Contains(msg, c.words) || fields[c.field] == nil {
				t.Errorf("%s: test-connection = %s; want cause %s, %q, field %s", c.name, r.Raw, c.cause, c.words, c.field)
			}
			r = rec.keep(alice.JSON("POST", "/api/s3/buckets", c.body))
			if r.Status != c.status || (c.status != http.StatusOK && !strings.Contains(r.ErrMessage(), c.words)) {
				t.Errorf("%s: buckets = %d %s; want %d naming %q", c.name, r.Status, r.Raw, c.status, c.words)
			}
		}

		// Create, read back: the keys are never returned.
		r = rec.keep(alice.JSON("POST", "/api/destinations", with("name", "Test server")))
		want(t, r, http.StatusCreated)
		id, _ := r.Body["id"].(string)
		if r.Body["hasCredentials"] != true || r.Body["accessKeyIdMasked"] == "" || r.Body["bucket"] != s3cfg.Bucket || r.Header.Get("Location") != "/api/destinations/"+id {
			t.Errorf("created = %s (Location %q)", r.Raw, r.Header.Get("Location"))
		}
		r = rec.keep(alice.JSON("POST", "/api/destinations", with("name", "")))
		want(t, r, http.StatusBadRequest)
		r = rec.keep(alice.JSON("POST", "/api/destinations", with("name", "Local again", "kind", "local")))
		want(t, r, http.StatusBadRequest)
		want(t, rec.keep(alice.JSON("GET", "/api/destinations/"+id, nil)), http.StatusOK)
		if l := list(rec.keep(alice.JSON("GET", "/api/destinations", nil))); len(l) != 2 {
			t.Errorf("alice has %d destinations, want 2", len(l))
		}
		r = rec.keep(alice.JSON("GET", "/api/s3/buckets?destinationId="+id, nil))
		want(t, r, http.StatusOK)
		if !strings.Contains(r.Raw, s3cfg.Bucket) {
			t.Errorf("buckets of the saved destination = %s", r.Raw)
		}
		for _, target := range []string{id, builtIn} {
			r = rec.keep(alice.JSON("POST", "/api/s3/test-connection", map[string]any{"destinationId": target}))
			if r.Status != http.StatusOK || r.Body["ok"] != true {
				t.Errorf("test-connection of saved %s = %d %s", target, r.Status, r.Raw)
			}
		}

		// At rest: the raw column holds no credential in clear.
		row, err := e.App.Store.GetDestination(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(row.Credentials) == 0 || bytes.Contains(row.Credentials, []byte(s3cfg.SecretKey)) || bytes.Contains(row.Settings, []byte(s3cfg.SecretKey)) {
			t.Errorf("stored row: credentials %q, settings %s; want sealed bytes without the secret", row.Credentials, row.Settings)
		}

		// PUT without keys keeps them; the destination still works.
		r = rec.keep(alice.JSON("PUT", "/api/destinations/"+id, with("name", "Renamed", "accessKeyId", "", "secretAccessKey", "", "storageClass", "STANDARD")))
		want(t, r, http.StatusOK)
		after, _ := e.App.Store.GetDestination(context.Background(), id)
		if !bytes.Equal(after.Credentials, row.Credentials) || r.Body["name"] != "Renamed" {
			t.Errorf("PUT without keys: %s; credentials kept %v", r.Raw, bytes.Equal(after.Credentials, row.Credentials))
		}
		dest, err := e.App.Destinations.Resolve(context.Background(), userID(t, alice), id)
		if err != nil {
			t.Fatal(err)
		}
		if err := dest.Test(context.Background()); err != nil {
			t.Errorf("resolved destination after PUT: %v", err)
		}

		// Bob cannot see, test, list, change, resolve or delete alice's destination.
		if l := list(rec.keep(bob.JSON("GET", "/api/destinations", nil))); len(l) != 1 {
			t.Errorf("bob sees %d destinations, want the built-in one", len(l))
		}
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/destinations/" + id, nil},
			{"PUT", "/api/destinations/" + id, with("name", "mine")},
			{"DELETE", "/api/destinations/" + id, nil},
			{"GET", "/api/destinations/" + id + "/usage", nil},
			{"GET", "/api/s3/buckets?destinationId=" + id, nil},
			{"POST", "/api/s3/buckets", map[string]any{"destinationId": id}},
			{"POST", "/api/s3/test-connection", map[string]any{"destinationId": id}},
		} {
			r := rec.keep(bob.JSON(c.method, c.path, c.body))
			if r.Status != http.StatusNotFound {
				t.Errorf("bob %s %s: %d %s, want 404", c.method, c.path, r.Status, r.Raw)
			}
		}
		if _, err := e.App.Destinations.Resolve(context.Background(), userID(t, bob), id); apperr.KindOf(err) != apperr.NotFound {
			t.Errorf("Resolve(bob, alice's) = %v, want not found", err)
		}
		want(t, rec.keep(bob.JSON("GET", "/api/destinations?all=true", nil)), http.StatusForbidden)
		want(t, rec.keep(alice.JSON("GET", "/api/destinations?all=true", nil)), http.StatusOK) // alice is the admin
		want(t, rec.keep(alice.JSON("DELETE", "/api/destinations/"+builtIn, nil)), http.StatusForbidden)

		want(t, rec.keep(alice.JSON("DELETE", "/api/destinations/"+id, nil)), http.StatusNoContent)
		want(t, rec.keep(alice.JSON("GET", "/api/destinations/"+id, nil)), http.StatusNotFound)
		want(t, rec.keep(e.Client().JSON("GET", "/api/destinations", nil)), http.StatusUnauthorized)

		rec.noneContains(t, s3cfg.SecretKey, s3cfg.SecretKey+"x")
	})
}

func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
