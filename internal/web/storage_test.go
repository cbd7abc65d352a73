package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/destinations"
	"github.com/backapp/backapp/internal/secrets"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/store/sqlite"
)

// newStorageEnv is newEnv with the destinations service, as the server composes it.
func newStorageEnv(t *testing.T) (*env, *destinations.Service) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "backapp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mail := &captureMailer{}
	svc, err := auth.NewService(auth.Config{Store: st, Mailer: mail, Logger: log, BaseURL: "http://backapp.test", PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	dests, err := destinations.New(ctx, destinations.Config{
		Store: st, Keys: keys, Logger: log,
		LocalDir: filepath.Join(dir, "storage"), LocalBaseURL: "http://backapp.test/storage/local/",
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Auth: svc, Store: st, Logger: log, Version: "test", Destinations: dests})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(compose(svc, h))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, st: st, auth: svc, h: h, mail: mail}, dests
}

const (
	testAccessKey = "AKIAWEBTESTKEY987654"
	testSecret    = "web-test-secret/never+shown"
)

func s3Form(name string) url.Values {
	return url.Values{
		"name": {name}, "endpoint": {"https://s3.example.com"}, "region": {"eu-west-1"}, "bucket": {"backups"},
		"pathStyle": {"on"}, "sse": {""}, "accessKeyId": {testAccessKey}, "secretAccessKey": {testSecret}, "action": {"save"},
	}
}

// noSecrets fails when a page carries a credential.
func noSecrets(t *testing.T, what string, r *response, secrets ...string) {
	t.Helper()
	for _, s := range append(secrets, testSecret, testAccessKey) {
		if s != "" && strings.Contains(r.Body, s) {
			t.Errorf("%s: the page contains the credential %q", what, s)
		}
	}
}

func destinationByName(t *testing.T, dests *destinations.Service, e *env, email, name string) destinations.Destination {
	t.Helper()
	u := userByEmail(t, e, email)
	list, err := dests.List(context.Background(), u, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("%s has no destination %q", email, name)
	return destinations.Destination{}
}

func TestStoragePages(t *testing.T) {
	e, dests := newStorageEnv(t)
	b := e.browser()
	b.register("Alice", "alice@example.com", "correct horse battery")

	r := b.get("/settings/storage")
	if r.Status != http.StatusOK {
		t.Fatalf("GET /settings/storage: %d", r.Status)
	}
	if txt := mainText(r); !strings.Contains(txt, destinations.BuiltInName+" built-in") || !strings.Contains(txt, "Only the server's disk so far") {
		t.Errorf("list lacks the built-in destination or the empty state: %q", txt)
	}
	if got := b.get("/settings/s3"); got.Status != http.StatusMovedPermanently || got.Location() != "/settings/storage" {
		t.Errorf("GET /settings/s3: %d → %q, want 301 → /settings/storage", got.Status, got.Location())
	}

	r = b.get("/settings/storage/new")
	if r.Status != http.StatusOK || input(t, r, "pathStyle") == nil {
		t.Fatalf("GET /settings/storage/new: %d", r.Status)
	}

	// Every problem at once, beside its field; the keys are never sent back.
	bad := url.Values{"name": {""}, "endpoint": {"ftp://x/y"}, "region": {"Not A Region"}, "bucket": {"B"},
		"sse": {"rot13"}, "accessKeyId": {""}, "secretAccessKey": {"only-the-secret"}, "action": {"save"}}
	r = b.post("/settings/storage", bad)
	if r.Status != http.StatusBadRequest {
		t.Fatalf("POST bad form: %d, want 400", r.Status)
	}
	for _, f := range []string{"name", "endpoint", "region", "bucket", "accessKeyId"} {
		if fieldError(t, r, f) == "" {
			t.Errorf("no error beside %s; errors: %s", f, errorsOf(r))
		}
	}
	if !strings.Contains(r.Body, "choose none, AES256 or aws:kms") {
		t.Errorf("no error beside the SSE select: %s", errorsOf(r))
	}
	if v := attr(input(t, r, "endpoint"), "value"); v != "ftp://x/y" {
		t.Errorf("endpoint not kept after the error: %q", v)
	}
	noSecrets(t, "form after an error", r, "only-the-secret")

	r = b.post("/settings/storage", s3Form("Offsite"))
	if r.Status != http.StatusSeeOther || r.Location() != "/settings/storage" {
		t.Fatalf("POST valid form: %d → %q: %s", r.Status, r.Location(), errorsOf(r))
	}
	r = b.follow(r)
	if txt := mainText(r); !strings.Contains(txt, "Destination Offsite was saved.") || !strings.Contains(txt, "bucket backups at https://s3.example.com") || !strings.Contains(txt, "AKIA…7654") {
		t.Errorf("list after saving: %q", txt)
	}
	noSecrets(t, "list", r)
	d := destinationByName(t, dests, e, "alice@example.com", "Offsite")
	row, err := e.st.GetDestination(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(row.Credentials, []byte(testSecret)) {
		t.Error("the stored row holds the secret in clear")
	}

	// Edit: the settings are filled in, the keys are not; saving without keys keeps them.
	r = b.get("/settings/storage/" + d.ID)
	if r.Status != http.StatusOK || attr(input(t, r, "bucket"), "value") != "backups" || attr(input(t, r, "accessKeyId"), "value") != "" {
		t.Fatalf("edit page: %d, bucket %q, access key %q", r.Status, attr(input(t, r, "bucket"), "value"), attr(input(t, r, "accessKeyId"), "value"))
	}
	noSecrets(t, "edit page", r)
	f := s3Form("Offsite EU")
	f.Set("accessKeyId", "")
	f.Set("secretAccessKey", "")
	f.Set("storageClass", "STANDARD_IA")
	if r = b.post("/settings/storage/"+d.ID, f); r.Status != http.StatusSeeOther {
		t.Fatalf("update: %d: %s", r.Status, errorsOf(r))
	}
	after, _ := e.st.GetDestination(context.Background(), d.ID)
	if !bytes.Equal(after.Credentials, row.Credentials) || after.Name != "Offsite EU" {
		t.Errorf("after an update without keys: name %q, credentials kept %v", after.Name, bytes.Equal(after.Credentials, row.Credentials))
	}

	// The built-in destination is tested from the list, and cannot be edited.
	r = b.post("/settings/storage/"+dests.BuiltInID()+"/test", url.Values{})
	if r.Status != http.StatusOK || !strings.Contains(mainText(r), "connection works") {
		t.Errorf("testing the built-in destination: %d %q", r.Status, mainText(r))
	}
	if r = b.get("/settings/storage/" + dests.BuiltInID()); r.Status != http.StatusForbidden {
		t.Errorf("editing the built-in destination: %d, want 403", r.Status)
	}

	// Another user sees neither the page nor the actions of alice's destination.
	bob := e.browser()
	bob.register("Bob", "bob@example.com", "correct horse battery")
	if r = bob.get("/settings/storage"); strings.Contains(r.Body, "Offsite") {
		t.Error("bob's list shows alice's destination")
	}
	for _, req := range []struct{ method, path string }{
		{"GET", "/settings/storage/" + d.ID},
		{"POST", "/settings/storage/" + d.ID},
		{"POST", "/settings/storage/" + d.ID + "/test"},
		{"GET", "/settings/storage/" + d.ID + "/delete"},
		{"POST", "/settings/storage/" + d.ID + "/delete"},
	} {
		var r *response
		if req.method == "GET" {
			r = bob.get(req.path)
		} else {
			r = bob.post(req.path, url.Values{"confirm": {"yes"}, "name": {"mine"}, "bucket": {"mine"}})
		}
		if r.Status != http.StatusNotFound {
			t.Errorf("bob %s %s: %d, want 404", req.method, req.path, r.Status)
		}
	}

	// Delete: confirmation needed, then gone.
	if r = b.get("/settings/storage/" + d.ID + "/delete"); r.Status != http.StatusOK {
		t.Fatalf("delete confirmation page: %d", r.Status)
	}
	if r = b.post("/settings/storage/"+d.ID+"/delete", url.Values{}); r.Status != http.StatusBadRequest || fieldErrorCheckbox(r) == "" {
		t.Errorf("delete without confirmation: %d %s", r.Status, errorsOf(r))
	}
	r = b.post("/settings/storage/"+d.ID+"/delete", url.Values{"confirm": {"yes"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", r.Status, errorsOf(r))
	}
	if txt := mainText(b.follow(r)); !strings.Contains(txt, "Destination Offsite EU was deleted.") {
		t.Errorf("after delete: %q", txt)
	}
	if _, err := e.st.GetDestination(context.Background(), d.ID); err == nil {
		t.Error("the destination is still stored after delete")
	}
}

func TestStorageFormTestsConnection(t *testing.T) {
	cfg := s3test.NewConfig(t)
	e, dests := newStorageEnv(t)
	b := e.browser()
	b.register("Alice", "alice@example.com", "correct horse battery")
	form := func(change func(url.Values)) url.Values {
		v := url.Values{"name": {"Test server"}, "endpoint": {cfg.Endpoint}, "region": {cfg.Region}, "bucket": {cfg.Bucket},
			"pathStyle": {"on"}, "accessKeyId": {cfg.AccessKey}, "secretAccessKey": {cfg.SecretKey}, "action": {"test"}}
		if change != nil {
			change(v)
		}
		return v
	}

	b.get("/settings/storage/new")
	r := b.post("/settings/storage", form(nil))
	if r.Status != http.StatusOK || !strings.Contains(mainText(r), "connection works") {
		t.Fatalf("test with good settings: %d %q", r.Status, mainText(r))
	}
	noSecrets(t, "test result", r, cfg.SecretKey)
	if attr(input(t, r, "bucket"), "value") != cfg.Bucket {
		t.Error("the form lost the bucket after a test")
	}
	if list, _ := dests.List(context.Background(), userByEmail(t, e, "alice@example.com"), false); len(list) != 1 {
		t.Errorf("testing saved something: %d destinations", len(list))
	}

	cases := []struct {
		name, field, words string
		change             func(url.Values)
	}{
		{"wrong secret", "accessKeyId", "wrong credentials", func(v url.Values) { v.Set("secretAccessKey", cfg.SecretKey+"x") }},
		{"missing bucket", "bucket", "does not exist", func(v url.Values) { v.Set("bucket", "no-such-bucket-here") }},
		{"closed port", "endpoint", "connection refused", func(v url.Values) { v.Set("endpoint", "http://127.0.0.1:1") }},
	}
	for _, c := range cases {
		r := b.post("/settings/storage", form(c.change))
		if got := fieldError(t, r, c.field); !strings.Contains(got, c.words) {
			t.Errorf("%s: error beside %s = %q, want %q", c.name, c.field, got, c.words)
		}
		if !strings.Contains(mainText(r), "Connection test failed") {
			t.Errorf("%s: no failure message above the form: %q", c.name, mainText(r))
		}
		noSecrets(t, c.name, r, cfg.SecretKey, cfg.SecretKey+"x")
	}

	// Save, then test the saved one from its edit form without typing the keys again.
	save := form(func(v url.Values) { v.Set("action", "save") })
	if r := b.post("/settings/storage", save); r.Status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", r.Status, errorsOf(r))
	}
	d := destinationByName(t, dests, e, "alice@example.com", "Test server")
	edit := form(func(v url.Values) { v.Set("accessKeyId", ""); v.Set("secretAccessKey", "") })
	r = b.post("/settings/storage/"+d.ID, edit)
	if r.Status != http.StatusOK || !strings.Contains(mainText(r), "connection works") {
		t.Errorf("test from the edit form with saved keys: %d %q", r.Status, mainText(r))
	}
	r = b.post("/settings/storage/"+d.ID+"/test", url.Values{})
	if !strings.Contains(mainText(r), "connection works") {
		t.Errorf("test from the list: %q", mainText(r))
	}
	noSecrets(t, "list after test", r, cfg.SecretKey)
}
