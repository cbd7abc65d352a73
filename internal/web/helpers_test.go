package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/csrf"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/sqlite"
)

// captureMailer keeps reset links instead of sending them.
type captureMailer struct {
	mu    sync.Mutex
	links []string
}

func (m *captureMailer) SendPasswordReset(_ context.Context, to, name, link string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.links = append(m.links, link)
	return nil
}

func (m *captureMailer) token(t *testing.T) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.links) == 0 {
		t.Fatal("no reset e-mail was sent")
	}
	u, err := url.Parse(m.links[len(m.links)-1])
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

// env is a server as the server composition builds it: session middleware, then
// CSRF protection, then the web handler's routes, on a real SQLite store.
type env struct {
	t    *testing.T
	srv  *httptest.Server
	st   store.Store
	auth *auth.Service
	h    *Handler
	mail *captureMailer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "backapp.db"))
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
	h, err := New(Config{Auth: svc, Store: st, Logger: log, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(compose(svc, h))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, st: st, auth: svc, h: h, mail: mail}
}

// compose builds the handler chain the server uses around Register's routes.
func compose(svc *auth.Service, h *Handler) http.Handler {
	mux := http.NewServeMux()
	h.Register(mux)
	return h.Protect(mux, nil)
}

// browser is one visitor with its own cookies. It does not follow redirects by
// itself, so tests can check where they lead; every HTML page it receives is checked
// for one h1 and labelled inputs.
type browser struct {
	t    *testing.T
	e    *env
	c    *http.Client
	csrf string // token of the last page received
}

func (e *env) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: e.t, e: e, c: c}
}

type response struct {
	Status int
	Header http.Header
	Body   string
	Doc    *html.Node // nil unless HTML
}

// Location is the redirect target's path and query.
func (r *response) Location() string {
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		return r.Header.Get("Location")
	}
	return u.RequestURI()
}

func (b *browser) do(req *http.Request) *response {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	r := &response{Status: res.StatusCode, Header: res.Header, Body: string(body)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") && len(body) > 0 && (res.StatusCode < 300 || res.StatusCode >= 400) {
		doc, err := html.Parse(strings.NewReader(r.Body))
		if err != nil {
			b.t.Fatalf("%s %s: parse HTML: %v", req.Method, req.URL.Path, err)
		}
		r.Doc = doc
		checkPage(b.t, req.Method+" "+req.URL.RequestURI(), doc)
		if in := find(doc, func(n *html.Node) bool { return n.DataAtom == atom.Input && attr(n, "name") == csrf.FieldName }); len(in) > 0 {
			b.csrf = attr(in[0], "value")
		}
	}
	return r
}

func (b *browser) get(path string) *response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// follow GETs path and follows redirects, returning the final page.
func (b *browser) follow(r *response) *response {
	b.t.Helper()
	for i := 0; r.Status >= 300 && r.Status < 400; i++ {
		if i > 5 {
			b.t.Fatal("too many redirects")
		}
		r = b.get(r.Location())
	}
	return r
}

// post submits a form with the CSRF token of the last page (unless the form has
// its own csrf_token, or noCSRF is set by passing csrf_token="").
func (b *browser) post(path string, form url.Values) *response {
	b.t.Helper()
	if _, ok := form[csrf.FieldName]; !ok {
		if b.csrf == "" {
			b.get("/forgot-password") // a page with a form, so with a token
		}
		form.Set(csrf.FieldName, b.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// register creates an account and expects to land on the dashboard.
func (b *browser) register(name, email, password string) {
	b.t.Helper()
	b.get("/register")
	r := b.post("/register", url.Values{"name": {name}, "email": {email}, "password": {password}, "password_confirm": {password}})
	if r.Status != http.StatusSeeOther || r.Location() != "/dashboard" {
		b.t.Fatalf("register %s: got %d → %q, want 303 → /dashboard\n%s", email, r.Status, r.Location(), errorsOf(r))
	}
}

// login signs in and expects a redirect to want.
func (b *browser) login(email, password, want string) {
	b.t.Helper()
	b.get("/login")
	r := b.post("/login", url.Values{"email": {email}, "password": {password}})
	if r.Status != http.StatusSeeOther || r.Location() != want {
		b.t.Fatalf("login %s: got %d → %q, want 303 → %s\n%s", email, r.Status, r.Location(), want, errorsOf(r))
	}
}

func (b *browser) logout() {
	b.t.Helper()
	b.get("/dashboard")
	r := b.post("/logout", url.Values{})
	if r.Status != http.StatusSeeOther || r.Location() != "/login" {
		b.t.Fatalf("logout: got %d → %q, want 303 → /login", r.Status, r.Location())
	}
}

// find returns the nodes under n for which match is true, in document order.
func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func byAtom(a atom.Atom) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.DataAtom == a }
}

func byClass(class string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		for _, c := range strings.Fields(attr(n, "class")) {
			if c == class {
				return true
			}
		}
		return false
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// text is the whitespace-normalised text content of n.
func text(n *html.Node) string {
	var sb strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(sb.String()), " ")
}

// mainText is the text of the page's <main>.
func mainText(r *response) string {
	if r.Doc == nil {
		return ""
	}
	m := find(r.Doc, byAtom(atom.Main))
	if len(m) != 1 {
		return ""
	}
	return text(m[0])
}

// errorsOf summarises a page's error messages for test failures.
func errorsOf(r *response) string {
	if r.Doc == nil {
		return r.Body
	}
	var msgs []string
	for _, n := range find(r.Doc, func(n *html.Node) bool { return byClass("form-error")(n) || byClass("field-error")(n) }) {
		msgs = append(msgs, text(n))
	}
	return strings.Join(msgs, "; ")
}

// fieldError returns the error shown beside the input named name, "" when none.
// "Beside" means within the same .field block as the input.
func fieldError(t *testing.T, r *response, name string) string {
	t.Helper()
	for _, f := range find(r.Doc, byClass("field")) {
		if len(find(f, func(n *html.Node) bool { return n.DataAtom == atom.Input && attr(n, "name") == name })) == 0 {
			continue
		}
		if e := find(f, byClass("field-error")); len(e) > 0 {
			return text(e[0])
		}
		return ""
	}
	t.Fatalf("no field with an input named %q", name)
	return ""
}

// input returns the first input named name.
func input(t *testing.T, r *response, name string) *html.Node {
	t.Helper()
	in := find(r.Doc, func(n *html.Node) bool { return n.DataAtom == atom.Input && attr(n, "name") == name })
	if len(in) == 0 {
		t.Fatalf("no input named %q", name)
	}
	return in[0]
}

// checkPage asserts what every page must have: exactly one h1, landmarks, a skip
// link to main, unique ids, and a label for every control a person fills in.
func checkPage(t *testing.T, what string, doc *html.Node) {
	t.Helper()
	if n := len(find(doc, byAtom(atom.H1))); n != 1 {
		t.Errorf("%s: %d <h1> elements, want exactly 1", what, n)
	}
	if n := len(find(doc, byAtom(atom.Main))); n != 1 {
		t.Errorf("%s: %d <main> elements, want 1", what, n)
	}
	if len(find(doc, func(n *html.Node) bool { return n.DataAtom == atom.A && attr(n, "href") == "#main" })) == 0 {
		t.Errorf("%s: no skip link to #main", what)
	}
	ids := map[string]bool{}
	labelFor := map[string]bool{}
	for _, n := range find(doc, func(*html.Node) bool { return true }) {
		if id := attr(n, "id"); id != "" {
			if ids[id] {
				t.Errorf("%s: duplicate id %q", what, id)
			}
			ids[id] = true
		}
		if n.DataAtom == atom.Label {
			labelFor[attr(n, "for")] = true
		}
		if n.DataAtom == atom.Script && (attr(n, "src") == "" || strings.TrimSpace(text(n)) != "") {
			t.Errorf("%s: inline script (the CSP forbids it)", what)
		}
		if n.DataAtom == atom.Style || hasAttr(n, "style") {
			t.Errorf("%s: inline style on <%s> (the CSP forbids it)", what, n.Data)
		}
		if n.DataAtom == atom.A && strings.HasPrefix(attr(n, "href"), "http") {
			t.Errorf("%s: external link %q", what, attr(n, "href"))
		}
	}
	for _, n := range find(doc, func(n *html.Node) bool {
		return n.DataAtom == atom.Input || n.DataAtom == atom.Select || n.DataAtom == atom.Textarea
	}) {
		switch attr(n, "type") {
		case "hidden", "submit", "button", "reset":
			continue
		}
		if attr(n, "aria-label") != "" {
			continue
		}
		id := attr(n, "id")
		if id == "" || !labelFor[id] {
			t.Errorf("%s: <%s name=%q> has no <label for>", what, n.Data, attr(n, "name"))
		}
	}
}
