package api

import (
	"net/http"
	"time"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/httpx"
)

// ScheduleRun is one upcoming run time: RFC 3339 with the schedule's own offset, and
// as text in that timezone.
type ScheduleRun struct {
	Time time.Time `json:"time"`
	Text string    `json:"text"`
}

// schedulePreview serves GET /api/schedule/preview?cron=…&timezone=…: the next five
// run times, or 400 with the problem in error.fields (cronExpression, timezone), for
// the form's live preview.
func (a *ConfigsAPI) schedulePreview(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	q := r.URL.Query()
	expr, tz := q.Get("cron"), q.Get("timezone")
	times, err := configs.Preview(expr, tz, a.svc.Now(), configs.PreviewCount)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := struct {
		CronExpression string        `json:"cronExpression"`
		Timezone       string        `json:"timezone"`
		Description    string        `json:"description"`
		NextRuns       []ScheduleRun `json:"nextRuns"`
	}{CronExpression: expr, Timezone: tz, Description: configs.DescribeSchedule(expr), NextRuns: make([]ScheduleRun, len(times))}
	if out.Timezone == "" {
		out.Timezone = "UTC"
	}
	for i, t := range times {
		out.NextRuns[i] = ScheduleRun{Time: t, Text: configs.FormatRunTime(t)}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}
