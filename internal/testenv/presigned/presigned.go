// Package presigned adapts a storage.Destination to the engine's upload and download
// interfaces with presigned URLs, for tests that drive the engine without an agent.
// In production the agent implements the same interfaces over the server's API
// (server mode too: it runs the real agent in-process).
package presigned

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/backapp/backapp/internal/engine/upload"
	"github.com/backapp/backapp/internal/storage"
)

// TTL is the lifetime of the URLs this package presigns.
const TTL = 15 * time.Minute

func toURL(p storage.PresignedURL) upload.URL {
	return upload.URL{URL: p.URL, Method: p.Method, Header: p.Header, Expires: p.Expires}
}

// Session is a multipart upload of one key on a Destination; it implements
// upload.Session.
type Session struct {
	Dest     storage.Destination
	Key      string
	UploadID string
	TTL      time.Duration // 0: TTL

	mu        sync.Mutex
	completed bool
}

// NewSession starts a multipart upload of key.
func NewSession(ctx context.Context, d storage.Destination, key string) (*Session, error) {
	id, err := d.CreateMultipart(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("start upload of %s: %w", key, err)
	}
	return &Session{Dest: d, Key: key, UploadID: id}, nil
}

func (s *Session) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return TTL
}

// PartURL presigns part n; every call presigns afresh, so refresh needs nothing more.
func (s *Session) PartURL(ctx context.Context, n int, refresh bool) (upload.URL, error) {
	p, err := s.Dest.PresignPart(ctx, s.Key, s.UploadID, n, s.ttl())
	if err != nil {
		return upload.URL{}, err
	}
	return toURL(p), nil
}

// Complete completes the multipart upload.
func (s *Session) Complete(ctx context.Context, parts []upload.Part, sha256hex string, size int64) error {
	sp := make([]storage.Part, len(parts))
	for i, p := range parts {
		sp[i] = storage.Part{Number: p.Number, ETag: p.ETag, Size: p.Size}
	}
	if err := s.Dest.CompleteMultipart(ctx, s.Key, s.UploadID, sp); err != nil {
		return err
	}
	s.mu.Lock()
	s.completed = true
	s.mu.Unlock()
	return nil
}

// Abort aborts the multipart upload.
func (s *Session) Abort(ctx context.Context) error {
	return s.Dest.AbortMultipart(ctx, s.Key, s.UploadID)
}

// GetURL returns a URLFunc that presigns GETs of key.
func GetURL(d storage.Destination, key string) upload.URLFunc {
	return func(ctx context.Context, refresh bool) (upload.URL, error) {
		p, err := d.PresignGet(ctx, key, TTL)
		if err != nil {
			return upload.URL{}, err
		}
		return toURL(p), nil
	}
}
