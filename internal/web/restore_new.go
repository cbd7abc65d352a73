package web

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/restores"
	"github.com/backapp/backapp/internal/store"
)

// The restore page is one form: the directory being browsed, the selection (the
// checked boxes of this directory plus hidden fields for the rest), the target. Its
// buttons post it; opening a directory or searching answers with a redirect to the
// GET URL that carries the whole state, so every view is linkable, the back button
// works, and nothing needs JavaScript or a server-side draft.

type restoreEntryView struct {
	restores.Entry
	Checked  bool
	Included string // the selected folder this entry is restored with, if any
	Download string // URL of the file's download, "" when not offered
}

// SizeText is a file's size in binary units.
func (e restoreEntryView) SizeText() string {
	if e.IsDir() || e.Type == "symlink" {
		return ""
	}
	return humanBytes(e.Size)
}

type restoreNewData struct {
	Run        store.Run
	ConfigName string
	// Encryption is how an encrypted run's configuration encrypts: "passphrase" when
	// the server keeps a passphrase it can hand to the agent, else "age".
	Encryption string
	Dir        string
	Parents    []restores.Entry
	Entries    []restoreEntryView
	Query      string // search text; Entries are then the matches
	Truncated  bool
	Hidden     []string // selected paths not shown in this view
	Selected   []string // every selected path, sorted
	Browse     string   // why the files cannot be listed, if they cannot
	Agents     []store.Agent
	AgentID    string
	TargetDir  string
	Overwrite  bool
	// Unportable is what the agent does with names its file system cannot hold
	// (store.UnportableRename or store.UnportableSkip).
	Unportable string
}

type restorePickData struct {
	Runs    []store.RunRecord
	Configs []store.BackupConfig
	Config  string
	At      string
}

// restoreState is the page's state as the URL and the form carry it.
type restoreState struct {
	run, dir, query, agent, target string
	sel                            []string
	overwrite                      bool
	unportable                     string // "" is the default, rename
}

func stateFrom(v url.Values) restoreState {
	st := restoreState{run: v.Get("run"), dir: v.Get("dir"), query: strings.TrimSpace(v.Get("q")),
		agent: v.Get("agent"), target: v.Get("target"), overwrite: v.Get("overwrite") != "",
		unportable: v.Get("unportable")}
	seen := map[string]bool{}
	for _, p := range v["sel"] {
		p = "/" + strings.Trim(p, "/")
		if p != "/" && !seen[p] {
			seen[p] = true
			st.sel = append(st.sel, p)
		}
	}
	slices.Sort(st.sel)
	if st.dir == "" {
		st.dir = "/"
	}
	return st
}

func (st restoreState) url() string {
	v := url.Values{"run": {st.run}}
	if st.dir != "/" {
		v.Set("dir", st.dir)
	}
	if st.query != "" {
		v.Set("q", st.query)
	}
	if st.agent != "" {
		v.Set("agent", st.agent)
	}
	if st.target != "" {
		v.Set("target", st.target)
	}
	if st.overwrite {
		v.Set("overwrite", "1")
	}
	if st.unportable != "" && st.unportable != store.UnportableRename {
		v.Set("unportable", st.unportable)
	}
	v["sel"] = st.sel
	return "/restores/new?" + v.Encode()
}

// restoreNewShow serves GET /restores/new: without a run, the choice of a backup or
// a point in time (?config=&at= picks the newest completed backup at or before it);
// with ?run=, that backup's files a directory (?dir=) at a time or the matches of a
// search (?q=), the selection (?sel=, repeated) and the target.
func (h *Handler) restoreNewShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	q := r.URL.Query()
	if q.Get("run") == "" {
		h.restorePick(w, r, sess, q)
		return
	}
	st := stateFrom(q)
	p, err := h.restoreNewPage(r, sess, st)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "restore_new", p)
}

func (h *Handler) restorePick(w http.ResponseWriter, r *http.Request, sess auth.Session, q url.Values) {
	d := restorePickData{Config: q.Get("config"), At: q.Get("at")}
	var pickErr error
	if d.Config != "" || d.At != "" {
		t, err := time.Parse(dateTimeLocal, d.At)
		if err != nil {
			t, err = time.Parse("2006-01-02T15:04", d.At)
		}
		if err != nil {
			t, err = time.Parse(time.RFC3339, d.At)
		}
		switch {
		case d.Config == "":
			pickErr = apperr.Invalidf("config", "choose a configuration")
		case err != nil:
			pickErr = apperr.Invalidf("at", "give a date and time such as 2025-03-14T15:09 (UTC)")
		default:
			run, err := h.restores.RunAt(r.Context(), sess.User, d.Config, t.UTC())
			if err == nil {
				seeOther(w, r, restoreState{run: run.ID, dir: "/"}.url())
				return
			}
			pickErr = err
		}
	}
	ch, err := h.restores.Choices(r.Context(), sess.User, 20)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	d.Runs, d.Configs = ch.Runs, ch.Configs
	p := &page{Title: "Restore files", Nav: "restores", Form: "pick", Data: d,
		Values: map[string]string{"config": d.Config, "at": d.At}}
	if pickErr != nil {
		h.formError(w, r, "restore_pick", p, pickErr)
		return
	}
	h.render(w, r, http.StatusOK, "restore_pick", p)
}

// runEncryption is the name of run's configuration and how the run is encrypted:
// "" when it is not, "passphrase" when its configuration keeps a passphrase the
// server hands to the agent, else "age" (recipients: the restore needs an identity).
func (h *Handler) runEncryption(r *http.Request, sess auth.Session, run store.Run) (name, mode string) {
	if h.configs != nil {
		if c, err := h.configs.Get(r.Context(), sess.User, run.ConfigID); err == nil {
			name = c.Name
			if c.Options.PassphraseSet {
				mode = configs.EncryptPassphrase
			}
		}
	}
	if run.Encrypted && mode == "" {
		mode = configs.EncryptAge
	}
	if !run.Encrypted {
		mode = ""
	}
	return name, mode
}

// restoreNewPage builds the browse-and-select page for st.
func (h *Handler) restoreNewPage(r *http.Request, sess auth.Session, st restoreState) (*page, error) {
	ctx := r.Context()
	run, err := h.restores.Run(ctx, sess.User, st.run)
	if err != nil {
		return nil, err
	}
	d := &restoreNewData{Run: run, Dir: st.dir, Query: st.query, Selected: st.sel, AgentID: st.agent,
		TargetDir: st.target, Overwrite: st.overwrite, Unportable: st.unportable}
	if d.Unportable == "" {
		d.Unportable = store.UnportableRename
	}
	d.ConfigName, d.Encryption = h.runEncryption(r, sess, run)
	if d.Agents, err = h.restores.Targets(ctx, run); err != nil {
		return nil, err
	}
	if d.AgentID == "" {
		d.AgentID = run.AgentID
	}
	selected := map[string]bool{}
	for _, p := range st.sel {
		selected[p] = true
	}
	var entries []restores.Entry
	if st.query != "" {
		entries, d.Truncated, err = h.restores.Search(ctx, run, st.query, 200)
	} else {
		var l restores.Listing
		l, err = h.restores.Browse(ctx, run, st.dir)
		entries, d.Parents, d.Dir = l.Entries, l.Parents, l.Dir
	}
	if err != nil {
		if k := apperr.KindOf(err); k == apperr.Internal || k == apperr.NotFound {
			return nil, err
		}
		d.Browse = apperr.From(err).Message
	}
	shown := map[string]bool{}
	for _, e := range entries {
		v := restoreEntryView{Entry: e, Checked: selected[e.Path]}
		for q := path.Dir(e.Path); q != "/" && q != "."; q = path.Dir(q) {
			if selected[q] {
				v.Included = q
				break
			}
		}
		if !run.Encrypted && (e.Type == "file" || e.Type == "hardlink") {
			v.Download = "/restores/file?" + url.Values{"run": {run.ID}, "path": {e.Path}}.Encode()
		}
		d.Entries = append(d.Entries, v)
		shown[e.Path] = true
	}
	for _, p := range st.sel {
		if !shown[p] {
			d.Hidden = append(d.Hidden, p)
		}
	}
	return &page{Title: "Restore files", Nav: "restores", Form: "restore", Data: d}, nil
}

// restoreNewSubmit serves POST /restores/new. The "start" button queues the
// restore and shows it; the others (open a directory, search, clear) redirect to
// the GET view of the new state.
func (h *Handler) restoreNewSubmit(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	// The form of a backup encrypted to recipients is multipart (the identity file).
	if err := r.ParseMultipartForm(64 << 10); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		h.RenderError(w, r, apperr.New(apperr.Invalid, "the form could not be read"))
		return
	}
	st := stateFrom(r.PostForm)
	switch {
	case r.PostForm.Get("start") != "":
		paths := st.sel
		identity, err := formIdentity(r)
		if err != nil {
			h.RenderError(w, r, err)
			return
		}
		in := restores.Input{RunID: st.run, AgentID: st.agent, TargetDir: st.target, Paths: paths, Overwrite: st.overwrite,
			UnportableNames: st.unportable, Identity: identity}
		x, err := h.restores.Start(r.Context(), sess.User, in)
		if err == nil {
			seeOther(w, r, "/restores/"+url.PathEscape(x.ID))
			return
		}
		if k := apperr.KindOf(err); k != apperr.Invalid {
			h.RenderError(w, r, err)
			return
		}
		p, perr := h.restoreNewPage(r, sess, st)
		if perr != nil {
			h.RenderError(w, r, perr)
			return
		}
		h.formError(w, r, "restore_new", p, err)
		return
	case r.PostForm.Get("open") != "":
		st.dir, st.query = path.Clean("/"+r.PostForm.Get("open")), ""
	case r.PostForm.Get("search") != "":
		// st.query is the search box
	case r.PostForm.Get("clear") != "":
		st.sel = nil
	default:
		st.query = ""
	}
	seeOther(w, r, st.url())
}

// formIdentity is the age identity of the restore form: the uploaded file, else the
// pasted text; "" when neither. It is used for this one restore and never written
// back into a page.
func formIdentity(r *http.Request) (string, error) {
	if f, _, err := r.FormFile("identity_file"); err == nil {
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, 64<<10))
		if err != nil {
			return "", apperr.New(apperr.Invalid, "the identity file could not be read")
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
	}
	return strings.TrimSpace(r.PostForm.Get("identity")), nil
}
