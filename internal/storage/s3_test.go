package storage_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/storage/storagetest"
)

func TestS3Contract(t *testing.T) {
	s3test.Config(t) // skip (or fail in CI) here, not in every subtest
	storagetest.Run(t, func(t *testing.T) storage.Destination { return s3test.New(t) })
}

// The same contract with SSE and a storage class: pre-signed PUTs then carry headers
// the agent must send, and multipart parts must still need none.
func TestS3ContractWithSSE(t *testing.T) {
	s3test.Config(t)
	storagetest.Run(t, func(t *testing.T) storage.Destination {
		cfg := s3test.NewConfig(t)
		cfg.SSE, cfg.StorageClass = storage.SSEAES256, "STANDARD"
		d, err := storage.NewS3(cfg)
		if err != nil {
			t.Fatalf("NewS3: %v", err)
		}
		return d
	})
}

func TestS3PresignedPutSignsSSEHeaders(t *testing.T) {
	cfg := s3test.NewConfig(t)
	cfg.SSE, cfg.StorageClass = storage.SSEAES256, "STANDARD"
	d, err := storage.NewS3(cfg)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	u, err := d.PresignPut(testCtx(t), "users/u/x", time.Minute)
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	if got := u.Header.Get("X-Amz-Server-Side-Encryption"); got != "AES256" {
		t.Errorf("PresignPut header x-amz-server-side-encryption = %q, want AES256", got)
	}
	if got := u.Header.Get("X-Amz-Storage-Class"); got != "STANDARD" {
		t.Errorf("PresignPut header x-amz-storage-class = %q, want STANDARD", got)
	}
	// Without the signed headers the server refuses the PUT: they are part of the URL's
	// contract, not a hint.
	req, _ := http.NewRequest(http.MethodPut, u.URL, strings.NewReader("x"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("PUT without the signed SSE headers: status %d, want 403", resp.StatusCode)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// closedPort returns the address of a 127.0.0.1 port nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestS3ErrorsNameTheCause reproduces each mistake a person makes when configuring a
// destination against the real server and checks that Test says which one it is.
func TestS3ErrorsNameTheCause(t *testing.T) {
	s3test.Config(t)
	tests := []struct {
		name      string
		change    func(cfg *storage.S3Config)
		wantCause storage.Cause
		wantMsg   []string
	}{
		{"wrong secret", func(c *storage.S3Config) { c.SecretKey += "x" },
			storage.CauseCredentials, []string{"wrong credentials", "secret key does not match", "SignatureDoesNotMatch"}},
		{"unknown access key", func(c *storage.S3Config) { c.AccessKey = "nosuchkey" },
			storage.CauseCredentials, []string{"wrong credentials", "does not know this access key"}},
		{"missing bucket", func(c *storage.S3Config) { c.Bucket = "backapp-no-such-bucket" },
			storage.CauseNoSuchBucket, []string{`bucket "backapp-no-such-bucket" does not exist`, "NoSuchBucket"}},
		{"closed port", func(c *storage.S3Config) { c.Endpoint = "http://" + closedPort(t) },
			storage.CauseUnreachable, []string{"cannot reach http://127.0.0.1:", "connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := s3test.NewConfig(t)
			tt.change(&cfg)
			d, err := storage.NewS3(cfg)
			if err != nil {
				t.Fatalf("NewS3: %v", err)
			}
			err = d.Test(testCtx(t))
			if err == nil {
				t.Fatalf("Test() = nil, want an error naming %s", tt.wantCause)
			}
			if got := storage.CauseOf(err); got != tt.wantCause {
				t.Errorf("CauseOf(Test()) = %q, want %q; error: %v", got, tt.wantCause, err)
			}
			for _, want := range tt.wantMsg {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Test() = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestS3ListBuckets(t *testing.T) {
	cfg := s3test.NewConfig(t)
	bucket := cfg.Bucket
	cfg.Bucket = "" // listing buckets needs none
	d, err := storage.NewS3(cfg)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	names, err := d.ListBuckets(testCtx(t))
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	if !slices.Contains(names, bucket) {
		t.Errorf("ListBuckets() = %q, want it to contain %q", names, bucket)
	}
	if err := d.Test(testCtx(t)); storage.CauseOf(err) != storage.CauseInvalid || !strings.Contains(err.Error(), "no bucket") {
		t.Errorf("Test without a bucket = %v, want %q", err, "no bucket configured")
	}

	cfg.SecretKey += "x"
	d, err = storage.NewS3(cfg)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	if _, err := d.ListBuckets(testCtx(t)); storage.CauseOf(err) != storage.CauseCredentials {
		t.Errorf("ListBuckets with a wrong secret = %v, want cause %q", err, storage.CauseCredentials)
	}
}

// versitygw answers 501 to bucket lifecycle requests: the error must say so plainly
// and wrap ErrNotSupported, so the UI can tell it from a failure.
func TestS3LifecycleNotSupported(t *testing.T) {
	d := s3test.New(t)
	err := d.EnsureAbortIncompleteUploads(testCtx(t), 7)
	if err == nil {
		// A server with lifecycle support (e.g. TEST_S3_ENDPOINT on MinIO): the rule
		// must be replaceable, not duplicated.
		if err := d.EnsureAbortIncompleteUploads(testCtx(t), 3); err != nil {
			t.Fatalf("second EnsureAbortIncompleteUploads: %v", err)
		}
		return
	}
	if !errors.Is(err, storage.ErrNotSupported) {
		t.Fatalf("EnsureAbortIncompleteUploads = %v, want an error wrapping ErrNotSupported", err)
	}
	if !strings.Contains(err.Error(), "not supported by this server") {
		t.Errorf("EnsureAbortIncompleteUploads = %q, want it to say %q", err, "not supported by this server")
	}
	if err := d.EnsureAbortIncompleteUploads(testCtx(t), 0); err == nil || storage.CauseOf(err) != storage.CauseInvalid {
		t.Errorf("EnsureAbortIncompleteUploads(0) = %v, want an invalid-argument error", err)
	}
}

// Agents PUT parts with net/http and nothing else: the URL must not ask for the SDK's
// checksum headers, and SSE set on the upload must not leak into part headers.
func TestS3PresignedPartNeedsNoHeaders(t *testing.T) {
	d := s3test.New(t)
	ctx := testCtx(t)
	key := "users/u/agents/a/configs/c/backup-2026-01-02-030405.tar.gz"
	id, err := d.CreateMultipart(ctx, key)
	if err != nil {
		t.Fatalf("CreateMultipart: %v", err)
	}
	defer d.AbortMultipart(ctx, key, id)
	u, err := d.PresignPart(ctx, key, id, 1, time.Minute)
	if err != nil {
		t.Fatalf("PresignPart: %v", err)
	}
	if len(u.Header) != 0 {
		t.Errorf("PresignPart header = %v, want none", u.Header)
	}
	if lower := strings.ToLower(u.URL); strings.Contains(lower, "checksum") {
		t.Errorf("PresignPart URL asks for a checksum: %s", u.URL)
	}
	for _, n := range []int{0, storage.MaxParts + 1} {
		if _, err := d.PresignPart(ctx, key, id, n, time.Minute); err == nil {
			t.Errorf("PresignPart(part %d): no error", n)
		}
	}
}

func TestS3ConfigValidate(t *testing.T) {
	ok := storage.S3Config{Endpoint: "https://s3.example.com", Region: "eu-west-1", Bucket: "my-backups", AccessKey: "AK", SecretKey: "SK"}
	tests := []struct {
		name    string
		change  func(c *storage.S3Config)
		wantErr string
	}{
		{"valid", func(c *storage.S3Config) {}, ""},
		{"aws without endpoint", func(c *storage.S3Config) { c.Endpoint = "" }, ""},
		{"sse kms with key", func(c *storage.S3Config) { c.SSE, c.SSEKMSKeyID = storage.SSEKMS, "arn:aws:kms:k" }, ""},
		{"storage class", func(c *storage.S3Config) { c.StorageClass = "STANDARD_IA" }, ""},
		{"no bucket", func(c *storage.S3Config) { c.Bucket = "" }, "bucket is required"},
		{"bucket uppercase", func(c *storage.S3Config) { c.Bucket = "MyBackups" }, "invalid bucket name"},
		{"bucket too short", func(c *storage.S3Config) { c.Bucket = "ab" }, "invalid bucket name"},
		{"endpoint scheme", func(c *storage.S3Config) { c.Endpoint = "s3.example.com" }, "not an http:// or https:// URL"},
		{"endpoint path", func(c *storage.S3Config) { c.Endpoint = "https://s3.example.com/bucket" }, "must not have a path"},
		{"no secret", func(c *storage.S3Config) { c.SecretKey = "" }, "secret key are required"},
		{"bad sse", func(c *storage.S3Config) { c.SSE = "rot13" }, "invalid SSE"},
		{"kms key without kms", func(c *storage.S3Config) { c.SSE, c.SSEKMSKeyID = storage.SSEAES256, "k" }, "KMS key id needs SSE"},
		{"bad region", func(c *storage.S3Config) { c.Region = "EU West" }, "invalid region"},
		{"bad storage class", func(c *storage.S3Config) { c.StorageClass = "cheap one" }, "invalid storage class"},
	}
	for _, tt := range tests {
		c := ok
		tt.change(&c)
		err := c.Validate()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: Validate() = %v, want error containing %q", tt.name, err, tt.wantErr)
		}
	}
}
