package scheduler

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/apperr"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		expr, tz string
		want     map[string]string // field → message
	}{
		{"61 * * * *", "UTC", map[string]string{FieldCron: "minute field: 61 is out of range 0-59"}},
		{"* 24 * * *", "UTC", map[string]string{FieldCron: "hour field: 24 is out of range 0-23"}},
		{"* * 0 * *", "UTC", map[string]string{FieldCron: "day-of-month field: 0 is out of range 1-31"}},
		{"* * * 13 *", "UTC", map[string]string{FieldCron: "month field: 13 is out of range 1-12"}},
		{"* * * FOO *", "UTC", map[string]string{FieldCron: `month field: "FOO" is not a month (1-12 or JAN-DEC)`}},
		{"* * * * 8", "UTC", map[string]string{FieldCron: "day-of-week field: 8 is out of range 0-7"}},
		{"* * * * FUN", "UTC", map[string]string{FieldCron: `day-of-week field: "FUN" is not a day of the week (0-7 or SUN-SAT)`}},
		{"x * * * *", "UTC", map[string]string{FieldCron: `minute field: "x" is not a number`}},
		{"*/0 * * * *", "UTC", map[string]string{FieldCron: "minute field: step 0 must be at least 1"}},
		{"*/x * * * *", "UTC", map[string]string{FieldCron: `minute field: step "x" is not a number`}},
		{"5-1 * * * *", "UTC", map[string]string{FieldCron: "minute field: range 5-1 is backwards: 5 comes after 1"}},
		{"1,,2 * * * *", "UTC", map[string]string{FieldCron: `minute field: empty list item in "1,,2"`}},
		{"? * * * *", "UTC", map[string]string{FieldCron: "minute field: ? is only allowed in the day fields"}},
		{"0 0 L * *", "UTC", map[string]string{FieldCron: `day-of-month field: "L": L, W and # are not supported`}},
		{"0 0 * * 1#2", "UTC", map[string]string{FieldCron: `day-of-week field: "1#2": L, W and # are not supported`}},
		{"* * * *", "UTC", map[string]string{FieldCron: "expected 5 fields (minute hour day-of-month month day-of-week), got 4"}},
		{"0 * * * * *", "UTC", map[string]string{FieldCron: "expected 5 fields (minute hour day-of-month month day-of-week), got 6; a seconds field is not supported: backups run at most once a minute"}},
		{"@every 30s", "UTC", map[string]string{FieldCron: "@every is not supported; write the interval as a cron expression, for example */15 * * * *"}},
		{"@reboot", "UTC", map[string]string{FieldCron: `unknown descriptor "@reboot"; use @yearly, @monthly, @weekly, @daily or @hourly`}},
		{"CRON_TZ=Europe/Berlin 0 2 * * *", "UTC", map[string]string{FieldCron: "put the timezone in the timezone field, not in the expression"}},
		{"", "UTC", map[string]string{FieldCron: "empty cron expression; for example 0 2 * * * runs daily at 02:00"}},
		{"0 0 30 2 *", "UTC", map[string]string{FieldCron: "the expression never fires: none of the selected months has the selected day of the month"}},
		{"0 0 31 4,6,9,11 *", "UTC", map[string]string{FieldCron: "the expression never fires: none of the selected months has the selected day of the month"}},
		{"0 2 * * *", "Europe/Berln", map[string]string{FieldTimezone: `unknown timezone "Europe/Berln"`}},
		{"0 2 * * *", "Local", map[string]string{FieldTimezone: `timezone "Local" depends on the server; give an IANA name such as Europe/Berlin`}},
		{"0 2 * * *", " Europe/Berlin", map[string]string{FieldTimezone: `unknown timezone " Europe/Berlin" (remove the spaces)`}},
		{"99 * * * *", "Mars/Olympus", map[string]string{
			FieldCron:     "minute field: 99 is out of range 0-59",
			FieldTimezone: `unknown timezone "Mars/Olympus"`,
		}},
	}
	for _, tt := range tests {
		_, err := Parse(tt.expr, tt.tz)
		var e *apperr.Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q, %q) = %v, want an *apperr.Error", tt.expr, tt.tz, err)
			continue
		}
		if e.Kind != apperr.Invalid {
			t.Errorf("Parse(%q, %q): kind %q, want invalid", tt.expr, tt.tz, e.Kind)
		}
		if len(e.Fields) != len(tt.want) {
			t.Errorf("Parse(%q, %q): fields %q, want %q", tt.expr, tt.tz, e.Fields, tt.want)
			continue
		}
		for f, want := range tt.want {
			if got := e.Fields[f]; got != want {
				t.Errorf("Parse(%q, %q): %s: got %q, want %q", tt.expr, tt.tz, f, got, want)
			}
		}
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"@daily", "0 0 * * * (UTC)"},
		{"@HOURLY", "0 * * * * (UTC)"},
		{"@weekly", "0 0 * * 0 (UTC)"},
		{"@monthly", "0 0 1 * * (UTC)"},
		{"@yearly", "0 0 1 1 * (UTC)"},
		{"* * * * *", "* * * * * (UTC)"},
		{"  0   2 * * *  ", "0 2 * * * (UTC)"},
		{"0 2 * * 7", "0 2 * * 0 (UTC)"},
		{"0 2 * * 5-7", "0 2 * * 5,6,0 (UTC)"},
		{"0 2 * * mon-fri", "0 2 * * mon-fri (UTC)"},
		{"0 0 29 2 *", "0 0 29 2 * (UTC)"}, // once in four years is still firing
		{"*/15 9-17 ? JAN,jul *", "*/15 9-17 ? JAN,jul * (UTC)"},
	}
	for _, tt := range tests {
		s, err := Parse(tt.expr, "")
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		if got := s.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.expr, got, tt.want)
		}
	}
}

func mustParse(t *testing.T, expr, tz string) *Schedule {
	t.Helper()
	s, err := Parse(expr, tz)
	if err != nil {
		t.Fatalf("Parse(%q, %q): %v", expr, tz, err)
	}
	return s
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestNextN(t *testing.T) {
	tests := []struct {
		name, tz, expr, after string
		want                  []string // RFC 3339 with the local offset
	}{
		{"utc every 15 minutes", "UTC", "*/15 * * * *", "2026-03-01T10:07:00Z",
			[]string{"2026-03-01T10:15:00Z", "2026-03-01T10:30:00Z", "2026-03-01T10:45:00Z", "2026-03-01T11:00:00Z"}},
		{"after is exactly a slot", "UTC", "0 * * * *", "2026-03-01T10:00:00Z",
			[]string{"2026-03-01T11:00:00Z", "2026-03-01T12:00:00Z"}},
		{"utc leap day", "UTC", "0 0 29 2 *", "2026-01-01T00:00:00Z",
			[]string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		{"sunday as 7", "UTC", "0 2 * * 7", "2026-03-02T00:00:00Z", // a Monday
			[]string{"2026-03-08T02:00:00Z", "2026-03-15T02:00:00Z"}},

		// Europe/Berlin: 2026-03-29 02:00 CET → 03:00 CEST; 2026-10-25 03:00 CEST → 02:00 CET.
		{"berlin spring daily 02:30 runs at 03:00", "Europe/Berlin", "30 2 * * *", "2026-03-28T12:00:00+01:00",
			[]string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{"berlin spring slots in the gap collapse with 03:00", "Europe/Berlin", "*/30 * * * *", "2026-03-29T01:10:00+01:00",
			[]string{"2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00"}},
		{"berlin spring hourly", "Europe/Berlin", "0 * * * *", "2026-03-29T00:30:00+01:00",
			[]string{"2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"}},
		{"berlin fall daily 02:30 runs once", "Europe/Berlin", "30 2 * * *", "2026-10-24T12:00:00+02:00",
			[]string{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
		{"berlin fall hourly skips the repeated hour", "Europe/Berlin", "0 * * * *", "2026-10-25T00:30:00+02:00",
			[]string{"2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00", "2026-10-25T03:00:00+01:00", "2026-10-25T04:00:00+01:00"}},
		{"berlin fall from inside the second pass", "Europe/Berlin", "*/20 * * * *", "2026-10-25T02:10:00+01:00",
			[]string{"2026-10-25T03:00:00+01:00", "2026-10-25T03:20:00+01:00"}},
		{"berlin midnight daily keeps midnight across DST", "Europe/Berlin", "@daily", "2026-03-28T12:00:00+01:00",
			[]string{"2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"}},

		// America/New_York: 2026-03-08 02:00 EST → 03:00 EDT; 2026-11-01 02:00 EDT → 01:00 EST.
		{"new york spring daily 02:30 runs at 03:00", "America/New_York", "30 2 * * *", "2026-03-07T12:00:00-05:00",
			[]string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{"new york fall daily 01:30 runs once", "America/New_York", "30 1 * * *", "2026-10-31T12:00:00-04:00",
			[]string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
		{"new york fall every 30 minutes", "America/New_York", "*/30 * * * *", "2026-11-01T00:45:00-04:00",
			[]string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T02:00:00-05:00"}},

		// Australia/Lord_Howe moves by 30 minutes: 2026-04-05 02:00 (+11) → 01:30 (+10:30);
		// 2026-10-04 02:00 (+10:30) → 02:30 (+11).
		{"lord howe spring 02:15 runs at 02:30", "Australia/Lord_Howe", "15 2 * * *", "2026-10-03T12:00:00+10:30",
			[]string{"2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"}},
		{"lord howe fall 01:45 runs once", "Australia/Lord_Howe", "45 1 * * *", "2026-04-04T12:00:00+11:00",
			[]string{"2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"}},
		{"lord howe fall every 15 minutes", "Australia/Lord_Howe", "*/15 * * * *", "2026-04-05T01:20:00+11:00",
			[]string{"2026-04-05T01:30:00+11:00", "2026-04-05T01:45:00+11:00", "2026-04-05T02:00:00+10:30"}},

		// Asia/Kolkata: +05:30 all year.
		{"kolkata weekdays", "Asia/Kolkata", "0 9 * * MON-FRI", "2026-03-27T10:00:00+05:30", // a Friday
			[]string{"2026-03-30T09:00:00+05:30", "2026-03-31T09:00:00+05:30"}},
		{"kolkata half-hour offset", "Asia/Kolkata", "30 2 * * *", "2026-03-29T00:00:00Z",
			[]string{"2026-03-30T02:30:00+05:30", "2026-03-31T02:30:00+05:30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.expr, tt.tz)
			got := s.NextN(mustTime(t, tt.after), len(tt.want))
			var gotS []string
			for _, g := range got {
				gotS = append(gotS, g.Format(time.RFC3339))
			}
			if strings.Join(gotS, " ") != strings.Join(tt.want, " ") {
				t.Errorf("NextN(%s) in %s of %q:\n got %v\nwant %v", tt.after, tt.tz, tt.expr, gotS, tt.want)
			}
			for _, g := range got {
				if g.Location() != s.Location() {
					t.Errorf("%v is in %v, want %v", g, g.Location(), s.Location())
				}
			}
		})
	}
}

// TestDailyOncePerLocalDay walks a whole year in every test zone: a daily job at a
// DST-sensitive time runs on every local date exactly once, and run times only grow.
func TestDailyOncePerLocalDay(t *testing.T) {
	tests := []struct{ tz, expr string }{
		{"UTC", "30 2 * * *"},
		{"Europe/Berlin", "30 2 * * *"},
		{"Europe/Berlin", "0 3 * * *"},
		{"America/New_York", "30 2 * * *"},
		{"America/New_York", "30 1 * * *"},
		{"Australia/Lord_Howe", "15 2 * * *"},
		{"Australia/Lord_Howe", "45 1 * * *"},
		{"Asia/Kolkata", "30 2 * * *"},
	}
	for _, tt := range tests {
		s := mustParse(t, tt.expr, tt.tz)
		loc := s.Location()
		from := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
		to := time.Date(2027, 1, 1, 0, 0, 0, 0, loc)
		days := map[string]int{}
		prev := from
		for tm := s.Next(from); tm.Before(to); tm = s.Next(tm) {
			if !tm.After(prev) {
				t.Fatalf("%s %q: %v after %v", tt.tz, tt.expr, tm, prev)
			}
			prev = tm
			days[tm.Format("2006-01-02")]++
		}
		if len(days) != 365 {
			t.Errorf("%s %q: ran on %d days of 2026, want 365", tt.tz, tt.expr, len(days))
		}
		for d, n := range days {
			if n != 1 {
				t.Errorf("%s %q: ran %d times on %s, want once", tt.tz, tt.expr, n, d)
			}
		}
	}
}

// TestEveryMinuteAcrossDST: an every-minute schedule never repeats a wall-clock minute
// and never runs two slots at one instant.
func TestEveryMinuteAcrossDST(t *testing.T) {
	tests := []struct {
		tz       string
		from     string
		wantRuns int // between from and from+6h
	}{
		{"Europe/Berlin", "2026-03-29T00:00:00+01:00", 360},       // every real minute; 02:xx never shows
		{"Europe/Berlin", "2026-10-25T00:00:00+02:00", 300},       // the repeated 02:xx hour runs once
		{"Australia/Lord_Howe", "2026-04-05T00:00:00+11:00", 330}, // 30 repeated minutes
		{"Asia/Kolkata", "2026-03-29T00:00:00+05:30", 360},
	}
	for _, tt := range tests {
		s := mustParse(t, "* * * * *", tt.tz)
		from := mustTime(t, tt.from)
		to := from.Add(6 * time.Hour)
		seen := map[string]bool{}
		n := 0
		prev := from
		for tm := s.Next(from); !tm.After(to); tm = s.Next(tm) {
			if !tm.After(prev) {
				t.Fatalf("%s: %v after %v", tt.tz, tm, prev)
			}
			prev = tm
			wall := tm.Format("2006-01-02 15:04")
			if seen[wall] {
				t.Errorf("%s: wall time %s ran twice", tt.tz, wall)
			}
			seen[wall] = true
			n++
		}
		if n != tt.wantRuns {
			t.Errorf("%s from %s: %d runs in 6 h, want %d", tt.tz, tt.from, n, tt.wantRuns)
		}
	}
}
