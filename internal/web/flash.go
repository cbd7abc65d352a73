package web

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
)

const flashCookie = "backapp_flash"

// flashTexts are the messages a flash may carry. The cookie names a message and its
// arguments rather than carrying free text, so a cookie planted by someone else can
// not put words of their choosing on a backapp page.
var flashTexts = map[string]struct {
	text string
	args int
}{
	"signed-out":          {"You have signed out.", 0},
	"welcome-admin":       {"Welcome to backapp. Your account is the administrator: you manage users and settings.", 0},
	"welcome":             {"Welcome to backapp. Your account is ready.", 0},
	"profile-saved":       {"Your profile was saved.", 0},
	"password-changed":    {"Your password was changed. Your other sessions were signed out.", 0},
	"password-reset":      {"Your password was reset. Sign in with the new password.", 0},
	"role-changed":        {"%s is now %s.", 2},
	"user-disabled":       {"%s is disabled and was signed out everywhere.", 1},
	"user-enabled":        {"%s can sign in again.", 1},
	"user-deleted":        {"%s was deleted.", 1},
	"registration-open":   {"Registration is open: anyone who can reach this server can create an account.", 0},
	"registration-closed": {"Registration is closed: nobody new can create an account.", 0},
	"destination-saved":   {"Destination %s was saved.", 1},
	"destination-deleted": {"Destination %s was deleted. Archives already stored in it were not touched.", 1},
	"agent-renamed":       {"The agent is now called %s.", 1},
	"agent-revoked":       {"%s is revoked: its key no longer works.", 1},
	"agent-deleted":       {"%s was deleted.", 1},
	"restore-retry":       {"The restore cannot start again as it was: %s. Check the choices below and start it.", 1},
	"restore-identity":    {"Give the age identity again: it was used for that restore only and not kept.", 0},
	"server-saved":        {"The directories for server-mode backups were saved.", 0},
	"channel-saved":       {"Notification channel %s was saved.", 1},
	"channel-deleted":     {"Notification channel %s was deleted; %s undelivered messages for it were dropped.", 2},
}

// flashMsg is a message shown once on the next page.
type flashMsg struct {
	Text string
}

type flashCookieValue struct {
	Code string   `json:"c"`
	Args []string `json:"a,omitempty"`
}

// flash leaves a message for the next page the browser loads.
func (h *Handler) flash(w http.ResponseWriter, code string, args ...string) {
	b, _ := json.Marshal(flashCookieValue{Code: code, Args: args})
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/",
		MaxAge: 60, HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}

// takeFlash returns the pending message, if any, and clears it.
func (h *Handler) takeFlash(w http.ResponseWriter, r *http.Request) *flashMsg {
	c, err := r.Cookie(flashCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return nil
	}
	var v flashCookieValue
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	t, ok := flashTexts[v.Code]
	if !ok || len(v.Args) != t.args {
		return nil
	}
	args := make([]any, len(v.Args))
	for i, a := range v.Args {
		if len(a) > 254 {
			return nil
		}
		args[i] = a
	}
	text := t.text
	if t.args > 0 {
		text = fmt.Sprintf(t.text, args...)
	}
	return &flashMsg{Text: text}
}
