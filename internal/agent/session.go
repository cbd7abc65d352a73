package agent

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/engine/upload"
)

// partBatch is how many part URLs one backup/parts request asks for: the next parts
// of a stream are needed soon, and one request per 16 MiB part would be chatty.
const partBatch = 8

// urlMargin: a URL expiring sooner than this is not handed out again.
const urlMargin = time.Minute

// partSession is an upload.Session for one object of a run over the agent API. The
// server holds the multipart upload: Complete and Abort only record the outcome, which
// the agent reports for both objects at once in backup/complete.
type partSession struct {
	c      *Client
	runID  string
	object string // agentproto.ObjectArchive or ObjectManifest
	now    func() time.Time

	mu       sync.Mutex
	urls     map[int]agentproto.PartURL
	result   *agentproto.UploadedObject
	aborted  bool
	requests int // backup/parts calls made (for tests)
	// nextAhead: no early batch request before this (the last one failed).
	nextAhead time.Time
}

func newPartSession(c *Client, runID, object string, first []agentproto.PartURL, now func() time.Time) *partSession {
	s := &partSession{c: c, runID: runID, object: object, now: now, urls: map[int]agentproto.PartURL{}}
	for _, p := range first {
		if p.Object == object || (p.Object == "" && object == agentproto.ObjectArchive) {
			s.urls[p.PartNumber] = p
		}
	}
	return s
}

func (s *partSession) fresh(p agentproto.PartURL) bool {
	return p.ExpiresAt.IsZero() || s.now().Add(urlMargin).Before(p.ExpiresAt)
}

// PartURL returns a cached URL for part n, or asks the server for n and the next few.
// With refresh (the last URL was refused as expired) it always asks again.
func (s *partSession) PartURL(ctx context.Context, n int, refresh bool) (upload.URL, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.urls, n-partBatch) // parts far behind are done
	if p, ok := s.urls[n]; ok && !refresh && s.fresh(p) {
		// Ask for the next batch while half of this one is left, once, without
		// waiting on an unreachable server: during a control-plane outage the upload
		// goes on with the URLs it holds.
		if ahead := n + partBatch/2; ahead <= upload.MaxParts && !s.cached(ahead) && !s.now().Before(s.nextAhead) {
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := s.fetch(actx, ahead, false); err != nil {
				s.nextAhead = s.now().Add(30 * time.Second)
			}
			cancel()
		}
		return toUploadURL(p), nil
	}
	if err := s.fetch(ctx, n, true); err != nil {
		return upload.URL{}, fmt.Errorf("part %d of the %s of run %s: %w", n, s.object, s.runID, err)
	}
	p, ok := s.urls[n]
	if !ok {
		return upload.URL{}, fmt.Errorf("part %d of the %s of run %s: the server sent no URL for it", n, s.object, s.runID)
	}
	return toUploadURL(p), nil
}

func (s *partSession) cached(n int) bool {
	p, ok := s.urls[n]
	return ok && s.fresh(p)
}

// fetch asks the server for the URLs of parts n.. (a batch); patient retries while
// the server is unreachable for the client's patience, else it tries once.
func (s *partSession) fetch(ctx context.Context, n int, patient bool) error {
	want := []int{n}
	for i := n + 1; i < n+partBatch && i <= upload.MaxParts; i++ {
		if !s.cached(i) {
			want = append(want, i)
		}
	}
	s.requests++
	req := agentproto.PartsRequest{RunID: s.runID, Object: s.object, PartNumbers: want}
	var parts []agentproto.PartURL
	var err error
	if patient {
		parts, err = s.c.BackupParts(ctx, req)
	} else {
		parts, err = s.c.BackupPartsOnce(ctx, req)
	}
	if err != nil {
		return err
	}
	for _, p := range parts {
		if p.Object == "" || p.Object == s.object {
			s.urls[p.PartNumber] = p
		}
	}
	return nil
}

func toUploadURL(p agentproto.PartURL) upload.URL {
	u := upload.URL{URL: p.URL, Method: p.Method, Expires: p.ExpiresAt}
	if u.Method == "" {
		u.Method = http.MethodPut
	}
	if len(p.Header) > 0 {
		u.Header = http.Header{}
		for k, v := range p.Header {
			u.Header.Set(k, v)
		}
	}
	return u
}

// Complete records the uploaded parts; backup/complete sends them.
func (s *partSession) Complete(_ context.Context, parts []upload.Part, sha256hex string, size int64) error {
	o := &agentproto.UploadedObject{SHA256: sha256hex, Size: size}
	for _, p := range parts {
		o.Parts = append(o.Parts, agentproto.CompletedPart{PartNumber: p.Number, ETag: p.ETag, Size: p.Size})
	}
	s.mu.Lock()
	s.result = o
	s.mu.Unlock()
	return nil
}

// Abort records the abort; backup/complete with a failed or cancelled status makes the
// server abort the multipart upload.
func (s *partSession) Abort(context.Context) error {
	s.mu.Lock()
	s.aborted = true
	s.mu.Unlock()
	return nil
}

func (s *partSession) uploaded() *agentproto.UploadedObject {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.result
}

// chainSource hands out the GET URLs of a restore chain, asking /api/agent/download
// again when they are about to expire or were refused as expired.
type chainSource struct {
	c           *Client
	runID       string
	pointInTime *time.Time
	now         func() time.Time

	mu    sync.Mutex
	chain []agentproto.DownloadArchive
}

func (cs *chainSource) load(ctx context.Context) ([]agentproto.DownloadArchive, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.chain == nil {
		if err := cs.fetchLocked(ctx); err != nil {
			return nil, err
		}
	}
	return cs.chain, nil
}

func (cs *chainSource) fetchLocked(ctx context.Context) error {
	d, err := cs.c.Download(ctx, cs.runID, cs.pointInTime)
	if err != nil {
		return err
	}
	if cs.chain != nil && len(d.Chain) != len(cs.chain) {
		return fmt.Errorf("download: the restore chain of run %s changed while restoring (%d archives, was %d)", cs.runID, len(d.Chain), len(cs.chain))
	}
	cs.chain = d.Chain
	return nil
}

// url returns a URLFunc for archive i of the chain (manifest when manifest is true).
func (cs *chainSource) url(i int, manifest bool) upload.URLFunc {
	return func(ctx context.Context, refresh bool) (upload.URL, error) {
		cs.mu.Lock()
		defer cs.mu.Unlock()
		a := cs.chain[i]
		if refresh || (!a.ExpiresAt.IsZero() && !cs.now().Add(urlMargin).Before(a.ExpiresAt)) {
			if err := cs.fetchLocked(ctx); err != nil {
				return upload.URL{}, err
			}
			a = cs.chain[i]
		}
		u := upload.URL{URL: a.ArchiveURL, Method: http.MethodGet, Expires: a.ExpiresAt}
		if manifest {
			u.URL = a.ManifestURL
		}
		return u, nil
	}
}
