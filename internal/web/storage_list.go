package web

import (
	"fmt"
	"net/http"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/destinations"
	"github.com/backapp/backapp/internal/store"
)

// storageRow is one destination in the list.
type storageRow struct {
	destinations.Destination
	Where string // bucket and server, or "this server's disk"
	Usage string // what the user's backups take, where cheap to know; "" otherwise
	Mine  bool   // the signed-in user may edit and delete it
}

type storageListData struct {
	Rows []storageRow
	// Tested and Test are the result of a Test button of the list.
	Tested string
	Test   *destinations.TestResult
}

// storageList serves GET /settings/storage: the built-in local destination and the
// user's own S3 destinations.
func (h *Handler) storageList(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	h.renderStorageList(w, r, sess, "", nil)
}

func (h *Handler) renderStorageList(w http.ResponseWriter, r *http.Request, sess auth.Session, tested string, test *destinations.TestResult) {
	list, err := h.dests.List(r.Context(), sess.User, false)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	data := storageListData{Tested: tested, Test: test}
	for _, d := range list {
		row := storageRow{Destination: d, Mine: d.UserID == sess.User.ID}
		if d.Kind == store.DestinationLocal {
			row.Where = "This server's disk, in its data directory"
			// A directory walk of the user's own files: cheap enough for a page.
			if u, err := h.dests.Usage(r.Context(), sess.User, d.ID); err == nil {
				row.Usage = fmt.Sprintf("%s in %d %s", humanBytes(u.Bytes), u.Objects, plural(u.Objects, "object", "objects"))
			} else {
				h.log.Warn("storage usage", "destination", d.ID, "err", err)
			}
		} else {
			row.Where = s3Where(d.Settings)
		}
		data.Rows = append(data.Rows, row)
	}
	h.render(w, r, http.StatusOK, "storage", &page{Title: "Storage", Nav: "storage", Data: data})
}

func s3Where(s destinations.Settings) string {
	server := s.Endpoint
	if server == "" {
		region := s.Region
		if region == "" {
			region = "us-east-1"
		}
		server = "Amazon S3, " + region
	}
	return fmt.Sprintf("bucket %s at %s", s.Bucket, server)
}

// humanBytes renders n in binary units: "1.4 GiB".
func humanBytes(n int64) string {
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

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
