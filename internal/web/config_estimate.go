package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/store"
)

func init() {
	flashTexts["estimate-asked"] = struct {
		text string
		args int
	}{"Size estimate asked of the agent: %s", 1}
}

// estimateView is a configuration's size estimate on its page.
type estimateView struct {
	configs.Estimate
	// None: never asked; Err: it could not be read.
	None bool
	Err  string
}

// StatusView is the estimate's status as a word and a shape.
func (v estimateView) StatusView() statusView {
	switch v.Status {
	case store.EstimateDone:
		return statusView{Word: "Done", Shape: "✓", Class: "ok"}
	case store.EstimateFailed:
		return statusView{Word: "Failed", Shape: "✕", Class: "bad"}
	case store.EstimateRunning:
		return statusView{Word: "Scanning", Shape: "●", Class: "ok"}
	}
	return statusView{Word: "Waiting for the agent", Shape: "○", Class: "off"}
}

// estimateArgs is what the "estimate" template shows.
type estimateArgs struct {
	ID       string
	Estimate *estimateView
	CSRF     string
	Back     string // the page it is on: "edit" (the form) or "show" (the configuration's page)
}

// BackURL is the estimate on the page it is on.
func (a estimateArgs) BackURL() string { return estimatePage(a.ID, a.Back) }

// estimatePage is configuration id's page (back "show") or form with its estimate.
func estimatePage(id, back string) string {
	if back == "show" {
		return fmt.Sprintf("/configs/%s#estimate", url.PathEscape(id))
	}
	return fmt.Sprintf("/configs/%s/edit#estimate", url.PathEscape(id))
}

// BytesText is the size in human units.
func (v estimateView) BytesText() string { return humanBytes(v.Bytes) }

// DurationText is how long the scan took.
func (v estimateView) DurationText() string { return humanDuration(v.Duration()) }

// estimate reads configuration id's estimate for its page.
func (h *Handler) estimate(ctx context.Context, actor store.User, id string) *estimateView {
	e, err := h.configs.GetEstimate(ctx, actor, id)
	switch {
	case errors.Is(err, configs.ErrNoEstimate):
		return &estimateView{None: true}
	case err != nil:
		h.log.Warn("configuration page: read the size estimate", "config", id, "err", err)
		return &estimateView{Err: "The size estimate could not be read; try again."}
	}
	return &estimateView{Estimate: e}
}

// configEstimate serves POST /configs/{id}/estimate ("Estimate size"): it asks the
// agent for a new estimate and goes back to the configuration's page, which shows it.
func (h *Handler) configEstimate(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	id := r.PathValue("id")
	e, err := h.configs.RequestEstimate(r.Context(), sess.User, id, meta(r))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	msg := "the result shows below when it is done."
	if e.Note != "" {
		msg = e.Note + "."
	}
	h.flash(w, "estimate-asked", msg)
	seeOther(w, r, estimatePage(id, r.PostFormValue("back")))
}

// groupDigits writes n with thousands separated by commas: 123,456.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
