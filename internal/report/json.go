package report

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"time"
)

// WriteJSON streams the report as one JSON document: the period, the runs (as they
// are read) and then the totals, overall and per configuration.
func (r *Report) WriteJSON(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	head, _ := json.Marshal(map[string]any{"period": r.Label, "from": r.from.UTC().Format(time.RFC3339), "to": r.to.UTC().Format(time.RFC3339)})
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"runs":[`)
	enc := json.NewEncoder(bw)
	n := 0
	s, err := r.Summarise(ctx, func(x Row) error {
		if n > 0 {
			bw.WriteByte(',')
		}
		n++
		return enc.Encode(x)
	})
	if err != nil {
		return err
	}
	bw.WriteString(`],"summary":`)
	if err := enc.Encode(s.Total); err != nil {
		return err
	}
	bw.WriteString(`,"configurations":`)
	if s.PerConfig == nil {
		s.PerConfig = []*ConfigSummary{}
	}
	if err := enc.Encode(s.PerConfig); err != nil {
		return err
	}
	bw.WriteString("}\n")
	return bw.Flush()
}
