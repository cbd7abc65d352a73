package destinations_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/destinations"
	"github.com/backapp/backapp/internal/secrets"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/sqlite"
)

type env struct {
	t     *testing.T
	st    store.Store
	keys  *secrets.Keys
	svc   *destinations.Service
	dir   string
	alice store.User // admin
	bob   store.User
	carol store.User
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "backapp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := secrets.Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, keys: keys, dir: dir}
	e.svc = e.open()
	e.alice = e.user("alice@example.com", store.RoleAdmin)
	e.bob = e.user("bob@example.com", store.RoleUser)
	e.carol = e.user("carol@example.com", store.RoleUser)
	return e
}

func (e *env) open() *destinations.Service {
	e.t.Helper()
	svc, err := destinations.New(context.Background(), destinations.Config{
		Store: e.st, Keys: e.keys, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		LocalDir: filepath.Join(e.dir, "storage"), LocalBaseURL: "http://backapp.test/storage/local/",
		TestTimeout: 10 * time.Second,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

func (e *env) user(email, role string) store.User {
	e.t.Helper()
	now := time.Now()
	u := store.User{ID: uuid.Must(uuid.NewV7()).String(), Email: email, Name: email, PasswordHash: "x", Role: role, CreatedAt: now, UpdatedAt: now}
	if err := e.st.CreateUser(context.Background(), &u, false); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// input is a valid S3 destination on the test server's bucket of cfg.
func input(name string, cfg storage.S3Config) destinations.Input {
	return destinations.Input{
		Name: name,
		Settings: destinations.Settings{
			Endpoint: cfg.Endpoint, Region: cfg.Region, Bucket: cfg.Bucket, PathStyle: true,
		},
		Credentials: destinations.Credentials{AccessKeyID: cfg.AccessKey, SecretAccessKey: cfg.SecretKey},
	}
}

// offline is a valid input for tests that never contact a server.
func offline(name string) destinations.Input {
	return destinations.Input{
		Name:        name,
		Settings:    destinations.Settings{Endpoint: "https://s3.example.com", Region: "eu-west-1", Bucket: "backups", PathStyle: true},
		Credentials: destinations.Credentials{AccessKeyID: "AKIAEXAMPLEKEY123456", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
	}
}

func kind(err error) apperr.Kind { return apperr.KindOf(err) }

func fields(err error) map[string]string {
	var e *apperr.Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

func TestBuiltInLocalExistsOnceAndCannotChange(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.svc.BuiltInID()
	if id == "" {
		t.Fatal("no built-in destination id")
	}
	if again := e.open(); again.BuiltInID() != id {
		t.Errorf("second start: built-in id %s, want %s (the same row)", again.BuiltInID(), id)
	}
	all, err := e.st.ListAllDestinations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Kind != store.DestinationLocal || all[0].UserID != "" {
		t.Fatalf("rows after two starts = %+v, want one shared local destination", all)
	}
	for _, u := range []store.User{e.alice, e.bob} {
		list, err := e.svc.List(ctx, u, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || !list[0].BuiltIn || list[0].Kind != store.DestinationLocal || list[0].Name != destinations.BuiltInName {
			t.Errorf("%s's list = %+v, want the built-in destination", u.Email, list)
		}
	}
	if _, err := e.svc.Update(ctx, e.alice, id, offline("x")); kind(err) != apperr.Forbidden {
		t.Errorf("admin updates the built-in destination: %v, want forbidden", err)
	}
	if err := e.svc.Delete(ctx, e.alice, id); kind(err) != apperr.Forbidden {
		t.Errorf("admin deletes the built-in destination: %v, want forbidden", err)
	}
	for _, want := range []string{"", id} {
		d, err := e.svc.Resolve(ctx, e.bob.ID, want)
		if err != nil || d.Kind() != "local" {
			t.Errorf("Resolve(bob, %q) = %v, %v; want the local destination", want, d, err)
		}
	}
	res, err := e.svc.Test(ctx, e.bob, destinations.Target{DestinationID: id})
	if err != nil || !res.OK {
		t.Errorf("Test(built-in) = %+v, %v; want OK", res, err)
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	e := newEnv(t)
	in := destinations.Input{
		Name: "  ",
		Settings: destinations.Settings{
			Endpoint: "ftp://example.com/path", Region: "EU West", Bucket: "Bad_Bucket",
			StorageClass: "cheap one", SSE: "rot13", SSEKMSKeyID: "k",
		},
	}
	_, err := e.svc.Create(context.Background(), e.bob, in)
	if kind(err) != apperr.Invalid {
		t.Fatalf("Create(bad) = %v, want invalid", err)
	}
	got := fields(err)
	for _, f := range []string{"name", "endpoint", "region", "bucket", "storageClass", "sse", "accessKeyId", "secretAccessKey"} {
		if got[f] == "" {
			t.Errorf("no message for %s; fields %v", f, got)
		}
	}
	// sseKmsKeyId is only wrong once SSE is known; with SSE "AES256" it is.
	in.SSE = storage.SSEAES256
	if got := fields(destinations.Validate(in.Settings, in.Credentials, false)); got["sseKmsKeyId"] == "" || got["sse"] != "" {
		t.Errorf("KMS key with AES256: fields %v, want sseKmsKeyId only among the SSE fields", got)
	}
	if err := destinations.Validate(offline("ok").Settings, offline("ok").Credentials, false); err != nil {
		t.Errorf("Validate(valid) = %v", err)
	}
	list, _ := e.svc.List(context.Background(), e.bob, false)
	if len(list) != 1 {
		t.Errorf("bob has %d destinations after refused creates, want only the built-in one", len(list))
	}
}

func TestCredentialsSealedAndNeverShown(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	in := offline("Offsite")
	d, err := e.svc.Create(ctx, e.bob, in)
	if err != nil {
		t.Fatal(err)
	}
	if !d.HasCredentials || d.AccessKeyHint != "AKIA…3456" {
		t.Errorf("view: hasCredentials %v, hint %q; want true, AKIA…3456", d.HasCredentials, d.AccessKeyHint)
	}
	views := []any{d}
	got, err := e.svc.Get(ctx, e.bob, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	list, err := e.svc.List(ctx, e.bob, false)
	if err != nil {
		t.Fatal(err)
	}
	views = append(views, got, list)
	for _, v := range views {
		b, _ := json.Marshal(v)
		if bytes.Contains(b, []byte(in.SecretAccessKey)) || bytes.Contains(b, []byte(in.AccessKeyID)) {
			t.Errorf("a view carries a credential: %s", b)
		}
	}

	row, err := e.st.GetDestination(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{in.SecretAccessKey, in.AccessKeyID} {
		if bytes.Contains(row.Credentials, []byte(secret)) || bytes.Contains(row.Settings, []byte(secret)) {
			t.Errorf("the stored row holds %q in clear", secret)
		}
	}
	plain, err := e.keys.Open(destinations.SealPurpose, row.Credentials, []byte(d.ID))
	if err != nil || !bytes.Contains(plain, []byte(in.SecretAccessKey)) {
		t.Errorf("sealed credentials do not open to the secret: %v", err)
	}
	if _, err := e.keys.Open(destinations.SealPurpose, row.Credentials, []byte(uuid.NewString())); err == nil {
		t.Error("sealed credentials open under another row's id")
	}
}

func TestUpdateKeepsOrReplacesCredentials(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d, err := e.svc.Create(ctx, e.bob, offline("Offsite"))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := e.st.GetDestination(ctx, d.ID)

	in := offline("Offsite renamed")
	in.Credentials = destinations.Credentials{}
	in.StorageClass = "STANDARD_IA"
	got, err := e.svc.Update(ctx, e.bob, d.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := e.st.GetDestination(ctx, d.ID)
	if got.Name != "Offsite renamed" || got.StorageClass != "STANDARD_IA" || !bytes.Equal(before.Credentials, after.Credentials) {
		t.Errorf("update without keys: %+v; credentials kept %v", got, bytes.Equal(before.Credentials, after.Credentials))
	}

	in.Credentials = destinations.Credentials{AccessKeyID: "NEWKEYID0000000000"}
	if _, err := e.svc.Update(ctx, e.bob, d.ID, in); fields(err)["secretAccessKey"] == "" {
		t.Errorf("update with an access key alone: %v, want a secretAccessKey message", err)
	}
	in.SecretAccessKey = "new-secret-value"
	got, err = e.svc.Update(ctx, e.bob, d.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessKeyHint != "NEWK…0000" {
		t.Errorf("hint after new keys %q, want NEWK…0000", got.AccessKeyHint)
	}

	if _, err := e.svc.Create(ctx, e.bob, offline("Second")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Update(ctx, e.bob, d.ID, offline("Second")); fields(err)["name"] == "" {
		t.Errorf("rename to an existing name: %v, want a name message", err)
	}
	if _, err := e.svc.Create(ctx, e.bob, offline("Second")); fields(err)["name"] == "" {
		t.Errorf("create with an existing name: %v, want a name message", err)
	}
}

func TestUsersSeeOnlyTheirOwn(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d, err := e.svc.Create(ctx, e.bob, offline("Bob's"))
	if err != nil {
		t.Fatal(err)
	}
	carol := e.carol
	if _, err := e.svc.Get(ctx, carol, d.ID); kind(err) != apperr.NotFound {
		t.Errorf("carol gets bob's: %v, want not found", err)
	}
	if _, err := e.svc.Update(ctx, carol, d.ID, offline("mine")); kind(err) != apperr.NotFound {
		t.Errorf("carol updates bob's: %v, want not found", err)
	}
	if err := e.svc.Delete(ctx, carol, d.ID); kind(err) != apperr.NotFound {
		t.Errorf("carol deletes bob's: %v, want not found", err)
	}
	if _, err := e.svc.Test(ctx, carol, destinations.Target{DestinationID: d.ID}); kind(err) != apperr.NotFound {
		t.Errorf("carol tests bob's: %v, want not found", err)
	}
	if _, err := e.svc.ListBuckets(ctx, carol, destinations.Target{DestinationID: d.ID}); kind(err) != apperr.NotFound {
		t.Errorf("carol lists bob's buckets: %v, want not found", err)
	}
	if _, err := e.svc.Resolve(ctx, carol.ID, d.ID); kind(err) != apperr.NotFound {
		t.Errorf("Resolve(carol, bob's) = %v, want not found", err)
	}
	if _, err := e.svc.Resolve(ctx, e.bob.ID, d.ID); err != nil {
		t.Errorf("Resolve(bob, bob's) = %v", err)
	}
	// Cached now: the cache must not let carol in either.
	if _, err := e.svc.Resolve(ctx, carol.ID, d.ID); kind(err) != apperr.NotFound {
		t.Errorf("Resolve(carol, bob's) from the cache = %v, want not found", err)
	}
	if _, err := e.svc.Resolve(ctx, e.alice.ID, d.ID); kind(err) != apperr.NotFound {
		t.Errorf("Resolve(admin, bob's) = %v, want not found: backups use their owner's storage only", err)
	}
	if list, _ := e.svc.List(ctx, carol, false); len(list) != 1 {
		t.Errorf("carol's list has %d entries, want the built-in one only", len(list))
	}
	if _, err := e.svc.List(ctx, carol, true); kind(err) != apperr.Forbidden {
		t.Errorf("carol lists everyone's: %v, want forbidden", err)
	}

	// Administrators see everyone's and may delete, but not change, them.
	all, err := e.svc.List(ctx, e.alice, true)
	if err != nil || len(all) != 2 {
		t.Errorf("admin's list of all = %d, %v; want 2", len(all), err)
	}
	if _, err := e.svc.Get(ctx, e.alice, d.ID); err != nil {
		t.Errorf("admin gets bob's: %v", err)
	}
	if _, err := e.svc.Update(ctx, e.alice, d.ID, offline("admin's now")); kind(err) != apperr.Forbidden {
		t.Errorf("admin updates bob's: %v, want forbidden", err)
	}
	if err := e.svc.Delete(ctx, e.alice, d.ID); err != nil {
		t.Errorf("admin deletes bob's: %v", err)
	}
	if _, err := e.svc.Resolve(ctx, e.bob.ID, d.ID); kind(err) != apperr.NotFound {
		t.Errorf("Resolve after delete = %v, want not found (the cache is dropped)", err)
	}
}

func TestConnectionAgainstRealS3(t *testing.T) {
	cfg := s3test.NewConfig(t)
	e := newEnv(t)
	ctx := context.Background()

	d, err := e.svc.Create(ctx, e.bob, input("Test server", cfg))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Test(ctx, e.bob, destinations.Target{DestinationID: d.ID})
	if err != nil || !res.OK || !strings.Contains(res.Message, cfg.Bucket) {
		t.Fatalf("Test(saved) = %+v, %v; want OK naming the bucket", res, err)
	}
	names, err := e.svc.ListBuckets(ctx, e.bob, destinations.Target{DestinationID: d.ID})
	if err != nil || !contains(names, cfg.Bucket) {
		t.Errorf("ListBuckets(saved) = %v, %v; want %s among them", names, err, cfg.Bucket)
	}
	unsaved := input("", cfg)
	unsaved.Bucket = ""
	names, err = e.svc.ListBuckets(ctx, e.bob, destinations.Target{Settings: &unsaved.Settings, Credentials: unsaved.Credentials})
	if err != nil || !contains(names, cfg.Bucket) {
		t.Errorf("ListBuckets(unsaved, no bucket) = %v, %v; want %s among them", names, err, cfg.Bucket)
	}

	// Engine's view: the resolved destination stores and reads objects.
	dest, err := e.svc.Resolve(ctx, e.bob.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := dest.Put(ctx, "users/"+e.bob.ID+"/hello.txt", strings.NewReader("hello"), 5); err != nil {
		t.Fatal(err)
	}
	if u, err := e.svc.Usage(ctx, e.bob, d.ID); err != nil || u.Objects != 1 || u.Bytes != 5 {
		t.Errorf("Usage = %+v, %v; want 1 object, 5 bytes", u, err)
	}

	closed := closedPort(t)
	cases := []struct {
		name   string
		change func(*destinations.Input)
		cause  storage.Cause
		field  string
		words  string
	}{
		{"wrong secret", func(in *destinations.Input) { in.SecretAccessKey += "x" }, storage.CauseCredentials, "accessKeyId", "wrong credentials"},
		{"unknown access key", func(in *destinations.Input) { in.AccessKeyID = "nobody" + in.AccessKeyID }, storage.CauseCredentials, "accessKeyId", "wrong credentials"},
		{"missing bucket", func(in *destinations.Input) { in.Bucket = "no-such-bucket-" + strings.ToLower(uuid.NewString()[:8]) }, storage.CauseNoSuchBucket, "bucket", "does not exist"},
		{"closed port", func(in *destinations.Input) { in.Endpoint = closed }, storage.CauseUnreachable, "endpoint", "connection refused"},
		{"clock skew", func(in *destinations.Input) { in.Endpoint = skewedServer(t) }, storage.CauseClockSkew, "", "clock"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := input("", cfg)
			c.change(&in)
			res, err := e.svc.Test(ctx, e.bob, destinations.Target{Settings: &in.Settings, Credentials: in.Credentials})
			if err != nil {
				t.Fatalf("Test = %v, want a result", err)
			}
			if res.OK || res.Cause != c.cause || res.Field != c.field || !strings.Contains(res.Message, c.words) {
				t.Errorf("Test = %+v; want cause %s, field %q, message with %q", res, c.cause, c.field, c.words)
			}
			if strings.Contains(res.Message, cfg.SecretKey) {
				t.Errorf("the message carries the secret: %s", res.Message)
			}
			_, err = e.svc.ListBuckets(ctx, e.bob, destinations.Target{Settings: &in.Settings, Credentials: in.Credentials})
			if c.cause != storage.CauseNoSuchBucket && (err == nil || !strings.Contains(err.Error(), c.words)) {
				t.Errorf("ListBuckets = %v, want an error with %q", err, c.words)
			}
		})
	}

	// Testing changed settings of a saved destination uses the saved keys.
	changed := input("", cfg).Settings
	res, err = e.svc.Test(ctx, e.bob, destinations.Target{DestinationID: d.ID, Settings: &changed})
	if err != nil || !res.OK {
		t.Errorf("Test(saved keys, form settings) = %+v, %v; want OK", res, err)
	}

	// Resolve picks up an update at once.
	upd := input("Test server", cfg)
	upd.Credentials = destinations.Credentials{}
	upd.Bucket = "gone-" + strings.ToLower(uuid.NewString()[:8])
	if _, err := e.svc.Update(ctx, e.bob, d.ID, upd); err != nil {
		t.Fatal(err)
	}
	dest, err = e.svc.Resolve(ctx, e.bob.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := dest.Test(ctx); storage.CauseOf(err) != storage.CauseNoSuchBucket {
		t.Errorf("resolved after the update: Test = %v, want no-such-bucket (stale cache?)", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// closedPort is an http:// URL where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// skewedServer answers every request as S3 does when the clocks differ too much; a
// real server cannot be made to.
func skewedServer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message></Error>`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
