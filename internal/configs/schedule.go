package configs

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FormatRunTime is t as the pages and previews show a run time: in t's own
// location, with its zone abbreviation ("Sun 29 Mar 2026 03:00 CEST").
func FormatRunTime(t time.Time) string { return t.Format("Mon 2 Jan 2006 15:04 MST") }

var weekdays = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

// DescribeSchedule says a cron expression in words for the common shapes (every
// minute, hourly, daily, weekly, monthly at a fixed time); others are returned as
// they are. It does not validate: use scheduler.Parse for that.
func DescribeSchedule(expr string) string {
	expr = strings.TrimSpace(expr)
	switch strings.ToLower(expr) {
	case "":
		return "manual only"
	case "@hourly":
		return "every hour, on the hour"
	case "@daily", "@midnight":
		return "daily at 00:00"
	case "@weekly":
		return "weekly on Sunday at 00:00"
	case "@monthly":
		return "monthly on day 1 at 00:00"
	case "@yearly", "@annually":
		return "yearly on 1 January at 00:00"
	}
	f := strings.Fields(expr)
	if len(f) != 5 {
		return expr
	}
	if f[0] == "*" && f[1] == "*" && f[2] == "*" && f[3] == "*" && f[4] == "*" {
		return "every minute"
	}
	if strings.HasPrefix(f[0], "*/") && f[1] == "*" && f[2] == "*" && f[3] == "*" && f[4] == "*" {
		return "every " + f[0][2:] + " minutes"
	}
	m, errM := strconv.Atoi(f[0])
	if errM != nil || m < 0 || m > 59 || f[3] != "*" {
		return expr
	}
	if f[1] == "*" && f[2] == "*" && f[4] == "*" {
		return fmt.Sprintf("every hour at :%02d", m)
	}
	h, errH := strconv.Atoi(f[1])
	if errH != nil || h < 0 || h > 23 {
		return expr
	}
	at := fmt.Sprintf("%02d:%02d", h, m)
	switch {
	case f[2] == "*" && f[4] == "*":
		return "daily at " + at
	case f[2] == "*" && (f[4] == "1-5" || strings.EqualFold(f[4], "mon-fri")):
		return "weekdays at " + at
	case f[2] == "*":
		if d, err := strconv.Atoi(f[4]); err == nil && d >= 0 && d <= 7 {
			return "weekly on " + weekdays[d] + " at " + at
		}
	case f[4] == "*":
		if d, err := strconv.Atoi(f[2]); err == nil && d >= 1 && d <= 31 {
			return fmt.Sprintf("monthly on day %d at %s", d, at)
		}
	}
	return expr
}
