// Package storage is where backup archives are kept (the database is package store;
// users' saved destination settings are package destinations): S3 and S3-compatible
// stores, and a directory on the server's disk, behind one interface that pre-signs
// the URLs agents use to upload and download archives without holding any credential.
package storage

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

// MaxURLLifetime is the longest lifetime of any pre-signed URL backapp issues.
const MaxURLLifetime = time.Hour

var (
	// ErrNotFound is returned when an object or upload does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNotSupported is returned when the destination's server does not offer a feature
	// (for example bucket lifecycle rules); the message names the feature.
	ErrNotSupported = errors.New("not supported by this server")
)

// PresignedURL is a URL that allows exactly one method on exactly one key until Expires.
type PresignedURL struct {
	URL     string
	Method  string // http.MethodPut or http.MethodGet
	Key     string
	Expires time.Time
	// Header holds headers the client must send with the request (may be empty).
	Header http.Header
}

// Part is one uploaded part of a multipart upload.
type Part struct {
	Number int    // 1-based
	ETag   string // as returned by the PUT of the part
	Size   int64
}

// Object describes a stored object.
type Object struct {
	Key      string
	Size     int64
	Modified time.Time
	ETag     string
}

// Upload describes an incomplete multipart upload.
type Upload struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// Usage is the space used under a prefix.
type Usage struct {
	Objects int64
	Bytes   int64
}

// Destination is a place where archives are stored. Implementations are safe for
// concurrent use. TTLs above MaxURLLifetime are clamped to it.
type Destination interface {
	// Kind is "s3" or "local".
	Kind() string

	PresignPut(ctx context.Context, key string, ttl time.Duration) (PresignedURL, error)
	PresignGet(ctx context.Context, key string, ttl time.Duration) (PresignedURL, error)

	CreateMultipart(ctx context.Context, key string) (uploadID string, err error)
	PresignPart(ctx context.Context, key, uploadID string, partNumber int, ttl time.Duration) (PresignedURL, error)
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) error
	AbortMultipart(ctx context.Context, key, uploadID string) error
	ListUploads(ctx context.Context, prefix string) ([]Upload, error)

	// Put and Get are for the server's own small objects (manifests in server mode).
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Stat(ctx context.Context, key string) (Object, error)
	List(ctx context.Context, prefix string) ([]Object, error)
	Delete(ctx context.Context, key string) error
	Usage(ctx context.Context, prefix string) (Usage, error)

	// Test checks that the destination is reachable, the credentials are accepted and
	// the bucket (or directory) exists and is writable; its error names the cause.
	Test(ctx context.Context) error
	// EnsureAbortIncompleteUploads installs a rule that aborts multipart uploads older
	// than days, or returns an error wrapping ErrNotSupported.
	EnsureAbortIncompleteUploads(ctx context.Context, days int) error
}
