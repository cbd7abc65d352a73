package web

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/scheduler"
	"github.com/backapp/backapp/internal/store"
)

func init() {
	flashTexts["config-saved"] = struct {
		text string
		args int
	}{"Configuration %s was saved.", 1}
	flashTexts["config-deleted"] = struct {
		text string
		args int
	}{"Configuration %s was deleted, with its run history. Archives already stored were not touched.", 1}
}

// registerConfigs mounts the backup configuration pages (issue 5) when the server
// has a configurations service.
func (h *Handler) registerConfigs(mux *http.ServeMux) {
	if h.configs == nil {
		return
	}
	mux.HandleFunc("GET /configs", h.signedIn(h.configsList))
	mux.HandleFunc("GET /configs/new", h.signedIn(h.configNewShow))
	mux.HandleFunc("POST /configs/new", h.signedIn(h.configCreate))
	mux.HandleFunc("GET /configs/{id}", h.signedIn(h.configShow))
	mux.HandleFunc("GET /configs/{id}/edit", h.signedIn(h.configEditShow))
	mux.HandleFunc("POST /configs/{id}/edit", h.signedIn(h.configUpdate))
	mux.HandleFunc("GET /configs/{id}/delete", h.signedIn(h.configDeleteConfirm))
	mux.HandleFunc("POST /configs/{id}/delete", h.signedIn(h.configDelete))
	mux.HandleFunc("POST /configs/{id}/estimate", h.signedIn(h.configEstimate))
}

// configRow is one line of the configurations list.
type configRow struct {
	configs.Config
	Owner    string
	Agent    string // agent name, "" in server mode
	Schedule string // in words
	Timezone string
	NextRun  *time.Time
	LastRun  *store.Run
	// CanRun: the server runs backups, so "Run now" is offered.
	CanRun bool
}

// LastStatus is the last run's status as a word and a shape.
func (c configRow) LastStatus() statusView { return runStatusOf(*c.LastRun) }

// NextText is the next run time in the schedule's timezone.
func (c configRow) NextText() string { return configs.FormatRunTime(*c.NextRun) }

// configsList serves GET /configs: the user's configurations (everyone's for an
// administrator) with schedule in words, next run, last run and whether enabled.
func (h *Handler) configsList(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	ctx := r.Context()
	cs, err := h.configs.List(ctx, sess.User)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	agentNames, err := h.agentNames(ctx, sess.User)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	owners := map[string]string{}
	if sess.User.IsAdmin() {
		us, err := h.auth.ListUsers(ctx, sess.User)
		if err != nil {
			h.RenderError(w, r, err)
			return
		}
		for _, u := range us {
			owners[u.ID] = u.Email
		}
	}
	var last map[string]store.Run
	if h.runs != nil {
		if last, err = h.runs.Latest(ctx, sess.User, store.PerConfig); err != nil {
			h.RenderError(w, r, err)
			return
		}
	}
	now := h.now()
	rows := make([]configRow, len(cs))
	for i, c := range cs {
		row := configRow{Config: c, Owner: owners[c.UserID], Agent: agentNames[c.Agent()], Schedule: "manual only", CanRun: h.runs != nil}
		if c.Schedule != nil {
			row.Schedule = configs.DescribeSchedule(c.Schedule.CronExpression)
			row.Timezone = c.Schedule.Timezone
			if sc, err := scheduler.Parse(c.Schedule.CronExpression, c.Schedule.Timezone); err == nil && c.Enabled {
				if t := sc.Next(now); !t.IsZero() {
					row.NextRun = &t
				}
			}
		}
		if run, ok := last[c.ID]; ok {
			row.LastRun = &run
		}
		rows[i] = row
	}
	d := configsData{Rows: rows, Sort: sortFrom(r, "/configs", "name", "name", "owner", "runs", "lastrun", "nextrun", "enabled")}
	timeOf := func(t *time.Time) int64 {
		if t == nil {
			return 0
		}
		return t.UnixNano()
	}
	lastOf := func(c configRow) int64 {
		if c.LastRun == nil {
			return 0
		}
		return c.LastRun.StartTime.UnixNano()
	}
	sortRows(d.Rows, d.Sort, map[string]func(a, b configRow) int{
		"name":    func(a, b configRow) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) },
		"owner":   func(a, b configRow) int { return strings.Compare(a.Owner, b.Owner) },
		"runs":    func(a, b configRow) int { return strings.Compare(a.ExecutionMode+a.Agent, b.ExecutionMode+b.Agent) },
		"lastrun": func(a, b configRow) int { return cmp.Compare(lastOf(a), lastOf(b)) },
		"nextrun": func(a, b configRow) int { return cmp.Compare(timeOf(a.NextRun), timeOf(b.NextRun)) },
		"enabled": func(a, b configRow) int { return cmp.Compare(boolInt(a.Enabled), boolInt(b.Enabled)) },
	}, func(c configRow) string { return c.Name })
	h.render(w, r, http.StatusOK, "configs", &page{Title: "Configurations", Nav: "configs", Data: d})
}

// configsData is the configurations list in its order.
type configsData struct {
	Rows []configRow
	Sort sortState
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sourceRow is one source of the form, as typed.
type sourceRow struct {
	Index                           int
	Path, Include, Exclude          string
	PathErr, IncludeErr, ExcludeErr string
}

// Number is the source's number as people count.
func (s sourceRow) Number() int { return s.Index + 1 }

// option is one choice of a select.
type option struct{ Value, Label string }

// configFormData is the configuration form, new or edit.
type configFormData struct {
	ID       string // "" for a new configuration
	Action   string
	Sources  []sourceRow
	Agents   []option
	Dests    []option
	Preview  []string // next run times, when the schedule parses
	Describe string
	// PassphraseSet: a passphrase is saved; leaving the field empty keeps it.
	PassphraseSet bool
	Admin         bool
	// Estimate is a saved configuration's size estimate (nil on the new page).
	Estimate *estimateView
}

// Val is the kept value of field name.
func (p *page) Val(name string) string { return p.Values[name] }

// Err is the message of field name, if the form was submitted.
func (p *page) Err(name string) string { return p.Errors[name] }

// Checked reports whether field name holds value.
func (p *page) Checked(name, value string) bool { return p.Values[name] == value }

// scalar form fields: the input name is the configuration's JSON path.
var configTextFields = []string{
	"name", "enabled", configs.FieldExecutionMode, configs.FieldAgentID, configs.FieldDestination,
	configs.FieldCron, configs.FieldTimezone, configs.FieldType, configs.FieldFullEvery, configs.FieldFullEveryDays,
	configs.FieldCompression, configs.FieldCompressionLevel, configs.FieldEncryptionMode, configs.FieldRecipients,
	configs.FieldOnError, "options.followSymlinks", configs.FieldBandwidth, configs.FieldRetentionDays,
	configs.FieldKeepLast, configs.FieldKeepDaily, configs.FieldKeepWeekly, configs.FieldKeepMonthly,
	configs.FieldAlertAfter, configs.FieldHookPre, configs.FieldHookPost, configs.FieldHookTimeout,
}

// configValues are a configuration as form values.
func configValues(c configs.Config, localID string) map[string]string {
	o := c.Options
	itoa := func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	v := map[string]string{
		"name": c.Name, configs.FieldExecutionMode: c.ExecutionMode, configs.FieldAgentID: c.Agent(),
		configs.FieldDestination: c.Destination.DestinationID, configs.FieldType: o.Type,
		configs.FieldFullEvery: itoa(int64(o.FullEvery)), configs.FieldFullEveryDays: itoa(int64(o.FullEveryDays)),
		configs.FieldCompression: string(o.Compression), configs.FieldCompressionLevel: itoa(int64(o.CompressionLevel)),
		configs.FieldEncryptionMode: o.EncryptionMode, configs.FieldRecipients: strings.Join(o.Recipients, "\n"),
		configs.FieldOnError: o.OnError, configs.FieldBandwidth: itoa(o.Bandwidth),
		configs.FieldRetentionDays: itoa(int64(o.RetentionDays)), configs.FieldKeepLast: itoa(int64(o.KeepLast)),
		configs.FieldKeepDaily: itoa(int64(o.KeepDaily)), configs.FieldKeepWeekly: itoa(int64(o.KeepWeekly)),
		configs.FieldKeepMonthly: itoa(int64(o.KeepMonthly)), configs.FieldTimezone: "UTC",
		configs.FieldAlertAfter: itoa(int64(o.AlertAfterHours)),
	}
	if v[configs.FieldDestination] == localID {
		v[configs.FieldDestination] = ""
	}
	if c.Enabled {
		v["enabled"] = "on"
	}
	if o.FollowSymlinks {
		v["options.followSymlinks"] = "on"
	}
	if c.Schedule != nil {
		v[configs.FieldCron], v[configs.FieldTimezone] = c.Schedule.CronExpression, c.Schedule.Timezone
	}
	if h := o.Hooks; h != nil {
		v[configs.FieldHookPre], v[configs.FieldHookPost], v[configs.FieldHookTimeout] = h.Pre, h.Post, itoa(int64(h.TimeoutSeconds))
	}
	if v[configs.FieldEncryptionMode] == "" {
		v[configs.FieldEncryptionMode] = configs.EncryptNone
	}
	return v
}

func sourceRows(ss []configs.Source) []sourceRow {
	rows := make([]sourceRow, len(ss))
	for i, s := range ss {
		rows[i] = sourceRow{Index: i, Path: s.Path, Include: strings.Join(s.IncludePatterns, "\n"), Exclude: strings.Join(s.ExcludePatterns, "\n")}
	}
	return rows
}

// readConfigForm reads the posted form: the values to show again, the source rows
// (blank rows dropped), the configuration, and problems with numbers that are not
// numbers (reported together with Validate's).
func readConfigForm(r *http.Request) (map[string]string, []sourceRow, configs.Config, apperr.Fields) {
	v := map[string]string{}
	for _, k := range configTextFields {
		v[k] = r.PostFormValue(k)
	}
	bad := apperr.Fields{}
	num := func(field string) int64 {
		s := strings.TrimSpace(v[field])
		if s == "" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			bad.Add(field, "%q is not a whole number; enter digits only, such as 30", s)
		}
		return n
	}
	var rows []sourceRow
	for i := 0; i <= configs.MaxSources; i++ {
		p := fmt.Sprintf("sources[%d].", i)
		if _, ok := r.PostForm[p+"path"]; !ok {
			break
		}
		row := sourceRow{Path: r.PostFormValue(p + "path"), Include: r.PostFormValue(p + "includePatterns"), Exclude: r.PostFormValue(p + "excludePatterns")}
		if strings.TrimSpace(row.Path+row.Include+row.Exclude) == "" {
			continue
		}
		row.Index = len(rows)
		rows = append(rows, row)
	}
	c := configs.Config{
		Name: v["name"], Enabled: v["enabled"] != "", ExecutionMode: v[configs.FieldExecutionMode],
		Destination: configs.Destination{DestinationID: v[configs.FieldDestination]},
	}
	if id := v[configs.FieldAgentID]; id != "" {
		c.AgentID = &id
	}
	for _, row := range rows {
		c.Sources = append(c.Sources, configs.Source{Path: row.Path, IncludePatterns: []string{row.Include}, ExcludePatterns: []string{row.Exclude}})
	}
	if strings.TrimSpace(v[configs.FieldCron]) != "" {
		c.Schedule = &configs.Schedule{CronExpression: v[configs.FieldCron], Timezone: v[configs.FieldTimezone]}
	}
	o := &c.Options
	o.Type = v[configs.FieldType]
	o.FullEvery = int(num(configs.FieldFullEvery))
	o.FullEveryDays = int(num(configs.FieldFullEveryDays))
	o.Compression = configs.Codec(v[configs.FieldCompression])
	o.CompressionLevel = int(num(configs.FieldCompressionLevel))
	o.EncryptionMode = v[configs.FieldEncryptionMode]
	if o.EncryptionMode == "" {
		o.EncryptionMode = configs.EncryptNone
	}
	o.Recipients = []string{v[configs.FieldRecipients]}
	o.Passphrase = r.PostFormValue(configs.FieldPassphrase)
	o.OnError = v[configs.FieldOnError]
	o.FollowSymlinks = v["options.followSymlinks"] != ""
	o.Bandwidth = num(configs.FieldBandwidth)
	o.RetentionDays = int(num(configs.FieldRetentionDays))
	o.KeepLast = int(num(configs.FieldKeepLast))
	o.KeepDaily = int(num(configs.FieldKeepDaily))
	o.KeepWeekly = int(num(configs.FieldKeepWeekly))
	o.KeepMonthly = int(num(configs.FieldKeepMonthly))
	o.AlertAfterHours = int(num(configs.FieldAlertAfter))
	if pre, post, to := v[configs.FieldHookPre], v[configs.FieldHookPost], num(configs.FieldHookTimeout); pre != "" || post != "" || to != 0 {
		o.Hooks = &configs.Hooks{Pre: pre, Post: post, TimeoutSeconds: int(to)}
	}
	return v, rows, c, bad
}

// choices fills the agent and destination selects with what configuration id (a
// new one of actor's when "") may use.
func (h *Handler) choices(ctx context.Context, d *configFormData, actor store.User, id string) (localID string) {
	d.Agents = []option{{"", "Choose an agent"}}
	d.Dests = nil
	ch, err := h.configs.Choices(ctx, actor, id)
	if err != nil {
		// The form still works: saving checks the choice and says what is wrong.
		h.log.Warn("config form: list agents and destinations", "config", id, "err", err)
	}
	for _, a := range ch.Agents {
		label := a.Name
		if a.Revoked {
			label += " (revoked)"
		}
		d.Agents = append(d.Agents, option{a.ID, label})
	}
	for _, x := range ch.Destinations {
		if x.Kind == store.DestinationLocal {
			localID = x.ID
			d.Dests = append([]option{{"", x.Name + " (on the server)"}}, d.Dests...)
			continue
		}
		d.Dests = append(d.Dests, option{x.ID, x.Name})
	}
	if len(d.Dests) == 0 {
		d.Dests = []option{{"", "Built-in local storage (on the server)"}}
	}
	return localID
}

// preview fills the next five run times when the form's schedule parses.
func (h *Handler) preview(d *configFormData, v map[string]string) {
	d.Preview, d.Describe = nil, ""
	if strings.TrimSpace(v[configs.FieldCron]) == "" {
		return
	}
	times, err := configs.Preview(v[configs.FieldCron], v[configs.FieldTimezone], h.now(), configs.PreviewCount)
	if err != nil {
		return
	}
	d.Describe = configs.DescribeSchedule(v[configs.FieldCron])
	for _, t := range times {
		d.Preview = append(d.Preview, configs.FormatRunTime(t))
	}
}

func (h *Handler) showConfigForm(w http.ResponseWriter, r *http.Request, status int, title string, d configFormData, v map[string]string, err error) {
	if len(d.Sources) == 0 {
		d.Sources = []sourceRow{{}}
	}
	h.preview(&d, v)
	p := &page{Title: title, Nav: "configs", Form: "config", Values: v, Data: d}
	if err != nil {
		e := apperr.From(err)
		for i := range d.Sources {
			s := &d.Sources[i]
			s.PathErr = e.Fields[configs.SourceField(i, "path")]
			s.IncludeErr = e.Fields[configs.SourceField(i, "includePatterns")]
			s.ExcludeErr = e.Fields[configs.SourceField(i, "excludePatterns")]
		}
		p.Data = d
		h.formError(w, r, "config_form", p, err)
		return
	}
	h.render(w, r, status, "config_form", p)
}

// configNewShow serves GET /configs/new.
func (h *Handler) configNewShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	d := configFormData{Action: "/configs/new", Admin: sess.User.IsAdmin()}
	h.choices(r.Context(), &d, sess.User, "")
	v := configValues(configs.Config{Enabled: true, ExecutionMode: configs.ModeAgent,
		Schedule: &configs.Schedule{CronExpression: "0 2 * * *", Timezone: "UTC"},
		Options:  configs.Options{Type: configs.TypeIncremental, Compression: configs.CompressionZstd, EncryptionMode: configs.EncryptNone, OnError: "skip", FullEvery: 30}}, "")
	if len(d.Agents) == 2 {
		v[configs.FieldAgentID] = d.Agents[1].Value
	}
	h.showConfigForm(w, r, http.StatusOK, "New configuration", d, v, nil)
}

// configCreate serves POST /configs/new: "Add another source" and "Show next runs"
// show the form again with what was typed; saving shows the generated identity once
// when one was asked for, else goes back to the list.
func (h *Handler) configCreate(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	d := configFormData{Action: "/configs/new", Admin: sess.User.IsAdmin()}
	h.choices(r.Context(), &d, sess.User, "")
	h.submitConfig(w, r, sess, "", "New configuration", d)
}

func (h *Handler) submitConfig(w http.ResponseWriter, r *http.Request, sess auth.Session, id, title string, d configFormData) {
	v, rows, in, bad := readConfigForm(r)
	d.Sources = rows
	switch r.PostFormValue("action") {
	case "add-source":
		d.Sources = append(d.Sources, sourceRow{Index: len(rows)})
		if len(rows) == 0 {
			d.Sources = append(d.Sources, sourceRow{Index: 1})
		}
		h.showConfigForm(w, r, http.StatusOK, title, d, v, nil)
		return
	case "preview":
		var err error
		if strings.TrimSpace(v[configs.FieldCron]) != "" {
			if _, perr := scheduler.Parse(v[configs.FieldCron], v[configs.FieldTimezone]); perr != nil {
				f := apperr.Fields{}
				for k, m := range apperr.From(perr).Fields {
					f.Add("schedule."+k, "%s", m)
				}
				err = f.Err()
			}
		}
		h.showConfigForm(w, r, http.StatusOK, title, d, v, err)
		return
	}
	if len(bad) > 0 {
		// Report the numbers that are not numbers together with every other problem.
		if _, err := h.configs.Validate(r.Context(), sess.User, id, in); err != nil {
			e := apperr.From(err)
			if e.Kind != apperr.Invalid {
				h.RenderError(w, r, err)
				return
			}
			for k, m := range e.Fields {
				bad.Add(k, "%s", m)
			}
		}
		h.showConfigForm(w, r, http.StatusOK, title, d, v, bad.Err())
		return
	}
	var saved configs.Saved
	var err error
	if id == "" {
		saved, err = h.configs.Create(r.Context(), sess.User, in, meta(r))
	} else {
		saved, err = h.configs.Update(r.Context(), sess.User, id, in, meta(r))
	}
	if err != nil {
		h.showConfigForm(w, r, http.StatusOK, title, d, v, err)
		return
	}
	if saved.Identity != "" {
		h.showIdentity(w, r, saved)
		return
	}
	h.flash(w, "config-saved", saved.Config.Name)
	seeOther(w, r, "/configs")
}

// identityData is the page that shows a generated identity, once.
type identityData struct {
	Config    configs.Config
	Identity  string
	Recipient string
	Download  template.URL // a data: URL, so the identity never needs a second request
	FileName  string
	Archive   string // the archive's name pattern for this compression ("backup-….tar.gz")
	Untar     string // the tar command that unpacks it
}

// untarOf is the archive name pattern and the tar command for codec c.
func untarOf(c configs.Codec) (archive, untar string) {
	switch string(c) {
	case configs.CompressionGzip:
		return "backup-….tar.gz", "tar -xz"
	case configs.CompressionNone:
		return "backup-….tar", "tar -x"
	}
	return "backup-….tar.zst", "tar --zstd -x"
}

// showIdentity renders the one page that ever shows a generated age identity. It
// answers the POST that saved the configuration: there is no URL to come back to,
// and render marks it no-store.
func (h *Handler) showIdentity(w http.ResponseWriter, r *http.Request, s configs.Saved) {
	rcpt := ""
	if len(s.Config.Options.Recipients) > 0 {
		rcpt = s.Config.Options.Recipients[0]
	}
	file := fmt.Sprintf("# backapp configuration %q\n# created: %s\n# public key: %s\n%s\n",
		s.Config.Name, h.now().UTC().Format(time.RFC3339), rcpt, s.Identity)
	d := identityData{Config: s.Config, Identity: s.Identity, Recipient: rcpt,
		Download: template.URL("data:text/plain;charset=utf-8;base64," + base64.StdEncoding.EncodeToString([]byte(file))),
		FileName: "backapp-" + safeFileName(s.Config.Name) + "-identity.txt"}
	d.Archive, d.Untar = untarOf(s.Config.Options.Compression)
	h.render(w, r, http.StatusOK, "config_identity", &page{Title: "Save the decryption key", Nav: "configs", Data: d})
}

func safeFileName(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
				b.WriteByte('-')
			}
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		return "config"
	}
	if len(out) > 40 {
		out = out[:40]
	}
	return out
}
