package report

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

// WritePDF writes the report as PDF: a summary page with the headline numbers and
// the backups-per-day chart (and its numbers), then a table per configuration with
// its runs, success rate, average duration, data added, last success and failures.
func (r *Report) WritePDF(ctx context.Context, w io.Writer) error {
	s, err := r.Summarise(ctx, nil)
	if err != nil {
		return err
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle("backapp report "+r.Label, true)
	pdf.SetCreator("backapp", true)
	pdf.SetAutoPageBreak(true, 15)
	tr := pdf.UnicodeTranslatorFromDescriptor("") // core fonts are cp1252
	text := func(size float64, style, s string) {
		pdf.SetFont("Helvetica", style, size)
		pdf.MultiCell(0, size*0.5, tr(s), "", "L", false)
	}
	pdf.AddPage()
	text(18, "B", "Backup report")
	text(11, "", fmt.Sprintf("%s to %s (UTC)", s.From.UTC().Format("2 Jan 2006 15:04"), s.To.UTC().Format("2 Jan 2006 15:04")))
	pdf.Ln(4)
	t := s.Total
	for _, kv := range [][2]string{
		{"Backups", strconv.Itoa(t.Runs)},
		{"Completed", strconv.Itoa(t.Completed)},
		{"Failed", strconv.Itoa(t.Failed)},
		{"Success rate", rate(t)},
		{"Average duration", duration(t.AverageDuration)},
		{"Data added", bytes(t.BytesAdded)},
		{"Configurations", strconv.Itoa(len(s.PerConfig))},
	} {
		pdf.SetFont("Helvetica", "B", 11)
		pdf.CellFormat(50, 6, tr(kv[0]), "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 11)
		pdf.CellFormat(0, 6, tr(kv[1]), "", 1, "L", false, 0, "")
	}
	if len(s.Days) > 0 && len(s.Days) <= 120 {
		pdf.Ln(4)
		text(13, "B", "Backups per day (completed dark, failed hatched light)")
		chart(pdf, s)
	}
	for _, c := range s.PerConfig {
		if err := ctx.Err(); err != nil {
			return err
		}
		if pdf.GetY() > 230 {
			pdf.AddPage()
		}
		pdf.Ln(6)
		name := c.Configuration
		if name == "" {
			name = "(deleted configuration " + c.ConfigID + ")"
		}
		text(13, "B", name)
		last := "never"
		if c.LastSuccess != nil {
			last = c.LastSuccess.UTC().Format("2 Jan 2006 15:04 UTC")
		}
		pdf.SetFont("Helvetica", "", 10)
		for _, kv := range [][2]string{
			{"Runs", strconv.Itoa(c.Runs)},
			{"Success rate", rate(*c)},
			{"Average duration", duration(c.AverageDuration)},
			{"Data added", bytes(c.BytesAdded)},
			{"Last success", last},
			{"Failures", strconv.Itoa(c.Failed)},
		} {
			pdf.CellFormat(45, 5, tr(kv[0]), "1", 0, "L", false, 0, "")
			pdf.CellFormat(80, 5, tr(kv[1]), "1", 1, "L", false, 0, "")
		}
		for _, f := range c.Failures {
			reason := f.Reason
			if reason == "" {
				reason = "(no reason recorded)"
			}
			pdf.SetFont("Helvetica", "", 9)
			pdf.MultiCell(0, 4.5, tr(f.At.UTC().Format("2006-01-02 15:04")+"  failed: "+reason), "", "L", false)
		}
	}
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("write the PDF: %w", err)
	}
	return pdf.Output(w)
}

// chart draws the backups per day as bars, completed solid and failed hatched.
func chart(pdf *fpdf.Fpdf, s *Summary) {
	const h, width = 40.0, 180.0
	x0, y0 := pdf.GetX(), pdf.GetY()+h
	maxv := 0
	for _, d := range s.Days {
		maxv = max(maxv, d.Completed+d.Failed)
	}
	pdf.SetDrawColor(0, 0, 0)
	pdf.Line(x0, y0, x0+width, y0)
	if maxv > 0 {
		bw := width / float64(len(s.Days))
		for i, d := range s.Days {
			x := x0 + float64(i)*bw
			ch := float64(d.Completed) / float64(maxv) * h
			fh := float64(d.Failed) / float64(maxv) * h
			pdf.SetFillColor(40, 90, 160)
			if ch > 0 {
				pdf.Rect(x+0.2, y0-ch, bw-0.4, ch, "F")
			}
			if fh > 0 {
				pdf.SetFillColor(230, 150, 150)
				pdf.Rect(x+0.2, y0-ch-fh, bw-0.4, fh, "FD")
			}
		}
	}
	pdf.SetY(y0 + 2)
	pdf.SetFont("Helvetica", "", 8)
	if n := len(s.Days); n > 0 {
		pdf.CellFormat(width/2, 4, s.Days[0].Date, "", 0, "L", false, 0, "")
		pdf.CellFormat(width/2, 4, s.Days[n-1].Date, "", 1, "R", false, 0, "")
	}
	pdf.Ln(2)
	pdf.SetFont("Helvetica", "", 8)
	for _, d := range s.Days {
		if d.Completed+d.Failed == 0 {
			continue
		}
		pdf.CellFormat(0, 3.8, fmt.Sprintf("%s: %d completed, %d failed, %s added", d.Date, d.Completed, d.Failed, bytes(d.BytesAdded)), "", 1, "L", false, 0, "")
	}
}

func rate(c ConfigSummary) string {
	if c.Completed+c.Failed == 0 {
		return "-"
	}
	return strconv.FormatFloat(c.SuccessRate, 'f', 1, 64) + " %"
}

func duration(ms int64) string {
	if ms <= 0 {
		return "-"
	}
	return (time.Duration(ms) * time.Millisecond).Round(time.Second).String()
}

// bytes is n in binary units, as the pages show it.
func bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
