package api

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/report"
)

// RegisterReports adds GET /api/reports to mux.
func (a *API) RegisterReports(mux *http.ServeMux, svc *report.Service) {
	mux.HandleFunc("GET /api/reports", a.signedIn(func(w http.ResponseWriter, r *http.Request, sess auth.Session) {
		ServeReport(w, r, sess, svc, a.log)
	}))
}

// noDeadline lifts the server's write timeout for a long report.
var noDeadline time.Time

// reportTypes are the Content-Types of the report formats.
var reportTypes = map[string]string{
	"csv":  "text/csv; charset=utf-8; header=present",
	"json": "application/json",
	"pdf":  "application/pdf",
}

// ServeReport answers a report request (the API's and the /reports page's
// download): checked first, so bad input gets a JSON error, then streamed as an
// attachment whose name carries the period.
func ServeReport(w http.ResponseWriter, r *http.Request, sess auth.Session, svc *report.Service, log *slog.Logger) {
	req, err := report.ParseRequest(r.URL.Query())
	var rep *report.Report
	if err == nil {
		rep, err = svc.Prepare(r.Context(), sess.User, req)
	}
	if err != nil {
		httpx.WriteError(w, r, log, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", reportTypes[rep.Format])
	h.Set("Content-Disposition", `attachment; filename="`+rep.FileName()+`"`)
	h.Set("Cache-Control", "no-store")
	// Streamed: a report of years may take a while; no write deadline cuts it off.
	_ = http.NewResponseController(w).SetWriteDeadline(noDeadline)
	switch rep.Format {
	case "csv":
		err = rep.WriteCSV(r.Context(), w)
	case "json":
		err = rep.WriteJSON(r.Context(), w)
	case "pdf":
		// The PDF is built whole before its first byte goes out: a failure can
		// still be answered as an error.
		if err = rep.WritePDF(r.Context(), w); err != nil && r.Context().Err() == nil {
			h.Del("Content-Disposition")
			httpx.WriteError(w, r, log, err)
			return
		}
	}
	if err != nil && r.Context().Err() == nil {
		// Headers are gone; the truncated body and the log say it failed.
		log.Error("report", "file", rep.FileName(), "err", err)
	}
}
