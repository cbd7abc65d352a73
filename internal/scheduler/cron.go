package scheduler

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // timezones resolve the same on a minimal container or Windows

	"github.com/robfig/cron/v3"

	"github.com/backapp/backapp/internal/apperr"
)

// Form fields that Parse's errors name, as in the config's JSON (DESIGN §5).
const (
	FieldCron     = "cronExpression"
	FieldTimezone = "timezone"
)

// Schedule is a parsed cron expression in a timezone. It is immutable and safe for
// concurrent use.
type Schedule struct {
	expr string
	loc  *time.Location
	// spec matches wall-clock times: it runs in UTC on naive local times, so robfig's
	// own DST handling (which skips gap slots and repeats fall-back ones) never applies.
	spec *cron.SpecSchedule
}

// descriptors are the @-forms accepted, as 5-field expressions.
var descriptors = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

type field struct {
	name     string
	min, max int
	names    map[string]int
	noun     string // what a name in this field is ("month")
	nameHint string
}

var fields = [5]field{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day-of-month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, noun: "month", nameHint: "1-12 or JAN-DEC", names: map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}},
	// 7 is accepted as Sunday and rewritten to 0, which is all robfig knows.
	{name: "day-of-week", min: 0, max: 7, noun: "day of the week", nameHint: "0-7 or SUN-SAT", names: map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}},
}

// Parse parses a cron expression (5 fields or a descriptor such as @daily) and an IANA
// timezone ("" means UTC). On bad input it returns an *apperr.Error of kind Invalid
// whose Fields hold one precise message per form field (FieldCron, FieldTimezone),
// both checked at once, for example "minute field: 61 is out of range 0-59" and
// `unknown timezone "Europe/Berln"`.
func Parse(expr, timezone string) (*Schedule, error) {
	key := expr + "\x00" + timezone
	if sc, ok := parsed.Load(key); ok {
		return sc.(*Schedule), nil
	}
	sc, err := parse(expr, timezone)
	if err == nil && parsedN.Add(1) <= maxParsed {
		parsed.Store(key, sc)
	}
	return sc, err
}

// parsed holds the schedules Parse returned, by expression and timezone: pages
// parse every configuration's schedule on each request (the dashboard, 1,000 of
// them), and loading a timezone reads the zone database. Schedules are immutable.
// Only the first maxParsed are kept, so odd input cannot grow it without bound.
var (
	parsed  sync.Map
	parsedN atomic.Int64
)

const maxParsed = 4096

func parse(expr, timezone string) (*Schedule, error) {
	problems := apperr.Fields{}
	loc, err := loadLocation(timezone)
	if err != nil {
		problems.Add(FieldTimezone, "%s", err)
	}
	spec, norm, err := parseExpr(expr)
	if err != nil {
		problems.Add(FieldCron, "%s", err)
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return &Schedule{expr: norm, loc: loc, spec: spec}, nil
}

func loadLocation(name string) (*time.Location, error) {
	switch strings.TrimSpace(name) {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		// time.LoadLocation("Local") is whatever the server's clock is set to.
		return nil, fmt.Errorf("timezone \"Local\" depends on the server; give an IANA name such as Europe/Berlin")
	}
	if name != strings.TrimSpace(name) {
		return nil, fmt.Errorf("unknown timezone %q (remove the spaces)", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown timezone %q", name)
	}
	return loc, nil
}

// parseExpr validates expr field by field with messages meant for a person, then
// hands a normalised 5-field expression to robfig's parser.
func parseExpr(expr string) (*cron.SpecSchedule, string, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return nil, "", fmt.Errorf("empty cron expression; for example 0 2 * * * runs daily at 02:00")
	}
	if strings.HasPrefix(expr, "@") {
		d := strings.ToLower(expr)
		if strings.HasPrefix(d, "@every") {
			return nil, "", fmt.Errorf("@every is not supported; write the interval as a cron expression, for example */15 * * * *")
		}
		norm, ok := descriptors[d]
		if !ok {
			return nil, "", fmt.Errorf("unknown descriptor %q; use @yearly, @monthly, @weekly, @daily or @hourly", expr)
		}
		expr = norm
	}
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return nil, "", fmt.Errorf("put the timezone in the timezone field, not in the expression")
	}
	parts := strings.Fields(expr)
	if len(parts) != 5 {
		msg := fmt.Sprintf("expected 5 fields (minute hour day-of-month month day-of-week), got %d", len(parts))
		if len(parts) == 6 {
			msg += "; a seconds field is not supported: backups run at most once a minute"
		}
		return nil, "", fmt.Errorf("%s", msg)
	}
	for i, p := range parts {
		norm, err := checkField(p, fields[i])
		if err != nil {
			return nil, "", fmt.Errorf("%s field: %w", fields[i].name, err)
		}
		parts[i] = norm
	}
	norm := strings.Join(parts, " ")
	s, err := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow).Parse(norm)
	if err != nil {
		// checkField accepts a subset of robfig's grammar, so this is a bug here.
		return nil, "", fmt.Errorf("invalid cron expression: %w", err)
	}
	spec := s.(*cron.SpecSchedule)
	spec.Location = time.UTC
	// Day 30 in February: robfig searches five years (every leap day included) and
	// gives up with the zero time.
	if spec.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, "", fmt.Errorf("the expression never fires: none of the selected months has the selected day of the month")
	}
	return spec, norm, nil
}

// checkField validates one field and returns it normalised for robfig (names kept,
// day-of-week 7 rewritten as 0).
func checkField(s string, f field) (string, error) {
	items := strings.Split(s, ",")
	out := make([]string, 0, len(items))
	for _, item := range items {
		if item == "" {
			return "", fmt.Errorf("empty list item in %q", s)
		}
		norm, err := checkItem(item, f)
		if err != nil {
			return "", err
		}
		out = append(out, norm...)
	}
	return strings.Join(out, ","), nil
}

func checkItem(item string, f field) ([]string, error) {
	if strings.Contains(item, "#") || f.name == "day-of-month" && strings.ContainsAny(item, "LW") ||
		f.name == "day-of-week" && len(item) == 2 && item[1] == 'L' {
		return nil, fmt.Errorf("%q: L, W and # are not supported", item)
	}
	rng, stepStr, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepStr)
		if err != nil || stepStr == "" {
			return nil, fmt.Errorf("step %q is not a number", stepStr)
		}
		if n < 1 {
			return nil, fmt.Errorf("step %d must be at least 1", n)
		}
		step = n
	}
	if rng == "*" || rng == "?" {
		if rng == "?" && f.name != "day-of-month" && f.name != "day-of-week" {
			return nil, fmt.Errorf("? is only allowed in the day fields")
		}
		return []string{item}, nil // robfig's day-of-week * is 0-6 already
	}
	a, b, isRange := strings.Cut(rng, "-")
	lo, err := value(a, f)
	if err != nil {
		return nil, err
	}
	hi := lo
	if isRange {
		if hi, err = value(b, f); err != nil {
			return nil, err
		}
		if lo > hi {
			return nil, fmt.Errorf("range %s is backwards: %d comes after %d", rng, lo, hi)
		}
	} else if hasStep {
		hi = f.max // "5/15" means from 5 to the end, every 15
		if f.name == "day-of-week" {
			hi = 6 // as robfig reads it: Sunday is not the end of the week
		}
	}
	if f.name != "day-of-week" || hi < 7 {
		return []string{item}, nil
	}
	// Sunday as 7: robfig knows only 0-6, so spell the values out.
	var vals []string
	for v := lo; v <= hi; v += step {
		vals = append(vals, strconv.Itoa(v%7))
	}
	return vals, nil
}

func value(s string, f field) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("missing number in range")
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < f.min || n > f.max {
			return 0, fmt.Errorf("%d is out of range %d-%d", n, f.min, f.max)
		}
		return n, nil
	}
	if f.names != nil {
		if n, ok := f.names[strings.ToLower(s)]; ok {
			return n, nil
		}
		return 0, fmt.Errorf("%q is not a %s (%s)", s, f.noun, f.nameHint)
	}
	return 0, fmt.Errorf("%q is not a number", s)
}

// String returns the expression as parsed (descriptors expanded) and its timezone.
func (s *Schedule) String() string { return s.expr + " (" + s.loc.String() + ")" }

// Location is the timezone the expression is read in.
func (s *Schedule) Location() *time.Location { return s.loc }

// Next returns the first run time strictly after after, in the schedule's timezone,
// following the DST rules in the package doc. It never returns the zero time: Parse
// refuses expressions that never fire.
func (s *Schedule) Next(after time.Time) time.Time {
	after = after.In(s.loc)
	from := highWater(after)
	for {
		w := s.spec.Next(from) // naive wall time, strictly after from
		if w.IsZero() {
			return w // unreachable for a parsed schedule
		}
		if t := s.resolve(w); t.After(after) {
			return t
		}
		from = w
	}
}

// NextN returns the next n run times after after, for a preview as the user types.
func (s *Schedule) NextN(after time.Time, n int) []time.Time {
	out := make([]time.Time, 0, max(n, 0))
	for range n {
		after = s.Next(after)
		out = append(out, after)
	}
	return out
}

// naive returns t's wall clock as a UTC time with the same fields.
func naive(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// highWater returns the latest wall-clock time already reached at t, as a naive time.
// It is t's wall clock, except in the second pass of a fall-back hour, where the clock
// has already shown later times before it was set back.
func highWater(t time.Time) time.Time {
	start, _ := t.ZoneBounds()
	if start.IsZero() {
		return naive(t)
	}
	_, cur := t.Zone()
	_, prev := start.Add(-time.Nanosecond).Zone()
	back := time.Duration(prev-cur) * time.Second
	if back > 0 && t.Before(start.Add(back)) {
		return naive(start.Add(-time.Nanosecond).In(t.Location()))
	}
	return naive(t)
}

// resolve maps a naive wall time to the instant it denotes in s.loc: the earliest
// instant showing that wall time, or, when the wall time falls in a spring-forward
// gap, the instant the gap ends.
func (s *Schedule) resolve(w time.Time) time.Time {
	g := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, s.loc)
	start, end := g.ZoneBounds()
	offsets := []int{offset(g)}
	if !start.IsZero() {
		offsets = append(offsets, offset(start.Add(-time.Nanosecond)))
	}
	if !end.IsZero() {
		offsets = append(offsets, offset(end))
	}
	var best time.Time
	for _, off := range offsets {
		t := w.Add(-time.Duration(off) * time.Second).In(s.loc)
		if naive(t).Equal(w) && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	if !best.IsZero() {
		return best
	}
	// In a gap. Read in the offset before the jump (the smaller one: clocks jump
	// forward), w lands after the jump, in the zone that starts at the jump.
	before := slices.Min(offsets)
	landed := w.Add(-time.Duration(before) * time.Second).In(s.loc)
	jump, _ := landed.ZoneBounds()
	if jump.IsZero() || jump.After(landed) {
		return g // cannot happen with real zone data; keep Go's choice
	}
	return jump
}

func offset(t time.Time) int {
	_, off := t.Zone()
	return off
}
