package report

import (
	"bufio"
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"time"
)

// csvHeader names the CSV's columns.
var csvHeader = []string{"run_id", "configuration", "agent", "status", "start_time", "end_time",
	"duration_seconds", "files", "bytes_read", "bytes_stored", "error"}

// WriteCSV streams the report as RFC 4180 CSV, one row per run, to w. Text cells
// that a spreadsheet would run as a formula (starting with =, +, -, @, tab or
// carriage return) are neutralised with a leading apostrophe.
func (r *Report) WriteCSV(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true // RFC 4180
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	rec := make([]string, len(csvHeader))
	err := r.Each(ctx, func(x Row) error {
		end, dur := "", ""
		if x.EndTime != nil {
			end = x.EndTime.UTC().Format(time.RFC3339)
		}
		if x.Duration >= 0 {
			dur = strconv.FormatFloat(float64(x.Duration)/1000, 'f', 3, 64)
		}
		rec[0], rec[1], rec[2], rec[3] = x.RunID, Neutralise(x.Configuration), Neutralise(x.Agent), x.Status
		rec[4], rec[5], rec[6] = x.StartTime.UTC().Format(time.RFC3339), end, dur
		rec[7], rec[8], rec[9] = strconv.FormatInt(x.Files, 10), strconv.FormatInt(x.BytesRead, 10), strconv.FormatInt(x.BytesStored, 10)
		rec[10] = Neutralise(x.Error)
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// Neutralise prefixes a cell a spreadsheet would read as a formula with an
// apostrophe (OWASP's advice against CSV injection).
func Neutralise(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
