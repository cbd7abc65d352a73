package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// SSE modes for S3Config.SSE.
const (
	SSENone   = ""
	SSEAES256 = "AES256"
	SSEKMS    = "aws:kms"
)

// S3Config describes an S3 or S3-compatible destination.
type S3Config struct {
	// Endpoint is the server's base URL, e.g. "https://s3.eu-central-003.backblazeb2.com"
	// or "http://127.0.0.1:9000"; empty means AWS, resolved from Region.
	Endpoint string
	// Region defaults to us-east-1.
	Region string
	// Bucket may be empty only to list buckets (ListBuckets); every other operation
	// needs it.
	Bucket    string
	AccessKey string
	SecretKey string
	// PathStyle addresses the bucket as endpoint/bucket/key instead of
	// bucket.endpoint/key; most self-hosted servers (MinIO, Ceph, versitygw) need it.
	PathStyle bool
	// StorageClass applies to new objects ("" is the server's default, e.g. STANDARD,
	// STANDARD_IA, GLACIER_IR).
	StorageClass string
	// SSE is SSENone, SSEAES256 or SSEKMS; SSEKMSKeyID optionally names the KMS key.
	SSE         string
	SSEKMSKeyID string
	// HTTPClient overrides the SDK's default client (optional).
	HTTPClient *http.Client
}

var (
	bucketNameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionRE       = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	storageClassRE = regexp.MustCompile(`^[A-Z_]{1,64}$`)
)

// Validate checks the configuration without contacting the server, for forms and
// /api/s3/validate. It requires a bucket; NewS3 does not.
func (c S3Config) Validate() error {
	if c.Bucket == "" {
		return fmt.Errorf("s3 destination: bucket is required")
	}
	return c.validate()
}

func (c S3Config) validate() error {
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("s3 destination: endpoint %q is not an http:// or https:// URL", c.Endpoint)
		}
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
			return fmt.Errorf("s3 destination: endpoint %q must not have a path or query", c.Endpoint)
		}
	}
	if c.Region != "" && !regionRE.MatchString(c.Region) {
		return fmt.Errorf("s3 destination: invalid region %q", c.Region)
	}
	if c.Bucket != "" && (!bucketNameRE.MatchString(c.Bucket) || strings.Contains(c.Bucket, "..")) {
		return fmt.Errorf("s3 destination: invalid bucket name %q (3–63 lowercase letters, digits, dots and hyphens)", c.Bucket)
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return fmt.Errorf("s3 destination: access key and secret key are required")
	}
	if c.StorageClass != "" && !storageClassRE.MatchString(c.StorageClass) {
		return fmt.Errorf("s3 destination: invalid storage class %q", c.StorageClass)
	}
	switch c.SSE {
	case SSENone, SSEAES256:
		if c.SSEKMSKeyID != "" {
			return fmt.Errorf("s3 destination: a KMS key id needs SSE %q", SSEKMS)
		}
	case SSEKMS:
	default:
		return fmt.Errorf("s3 destination: invalid SSE %q (want %q, %q or none)", c.SSE, SSEAES256, SSEKMS)
	}
	return nil
}

// S3 is a Destination on an S3 or S3-compatible server. It holds the credentials;
// agents only ever get pre-signed URLs from it.
type S3 struct {
	cfg     S3Config
	client  *s3.Client
	presign *s3.PresignClient
	where   string // endpoint for messages
}

var _ Destination = (*S3)(nil)

// NewS3 returns an S3 destination. It does not contact the server; call Test for that.
func NewS3(cfg S3Config) (*S3, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	opts := s3.Options{
		Region:       cfg.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
		UsePathStyle: cfg.PathStyle,
		// Agents PUT parts with a plain HTTP client: the SDK's default CRC32 checksums
		// would make every pre-signed URL demand checksum headers, and many
		// S3-compatible servers reject them. Only send them where S3 requires them.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	where := "AWS S3 (" + cfg.Region + ")"
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(strings.TrimSuffix(cfg.Endpoint, "/"))
		where = cfg.Endpoint
	}
	if cfg.HTTPClient != nil {
		opts.HTTPClient = cfg.HTTPClient
	}
	client := s3.New(opts)
	return &S3{cfg: cfg, client: client, presign: s3.NewPresignClient(client), where: where}, nil
}

// Kind returns "s3".
func (d *S3) Kind() string { return "s3" }

// Bucket returns the configured bucket.
func (d *S3) Bucket() string { return d.cfg.Bucket }

func (d *S3) fail(op string, err error) error {
	return classifyS3(op, d.where, d.cfg.Bucket, err)
}

func (d *S3) needBucket(op string) error {
	if d.cfg.Bucket == "" {
		return &Error{Op: op, Cause: CauseInvalid, Msg: "no bucket configured"}
	}
	return nil
}

func (d *S3) checkKey(op, key string) error {
	if err := d.needBucket(op); err != nil {
		return err
	}
	if err := ValidateKey(key); err != nil {
		return &Error{Op: op, Cause: CauseInvalid, Msg: "invalid key", Err: err}
	}
	return nil
}

// clampTTL limits a URL lifetime to MaxURLLifetime and refuses lifetimes under a
// second, which SigV4 (whole seconds) cannot express.
func clampTTL(ttl time.Duration) (time.Duration, error) {
	if ttl < time.Second {
		return 0, fmt.Errorf("url lifetime %v is shorter than one second", ttl)
	}
	return min(ttl, MaxURLLifetime), nil
}

func (d *S3) presigned(op, key string, ttl time.Duration, sign func(expires func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)) (PresignedURL, error) {
	if err := d.checkKey(op, key); err != nil {
		return PresignedURL{}, err
	}
	ttl, err := clampTTL(ttl)
	if err != nil {
		return PresignedURL{}, &Error{Op: op, Cause: CauseInvalid, Msg: "invalid lifetime", Err: err}
	}
	expires := time.Now().Add(ttl)
	req, err := sign(s3.WithPresignExpires(ttl))
	if err != nil {
		return PresignedURL{}, d.fail(op, err)
	}
	h := http.Header{}
	for k, v := range req.SignedHeader {
		if !strings.EqualFold(k, "host") {
			h[k] = v
		}
	}
	return PresignedURL{URL: req.URL, Method: req.Method, Key: key, Expires: expires, Header: h}, nil
}

// PresignPut returns a URL for one PUT of key. With SSE or a storage class configured
// the returned Header must be sent with the PUT.
func (d *S3) PresignPut(ctx context.Context, key string, ttl time.Duration) (PresignedURL, error) {
	return d.presigned(fmt.Sprintf("presign put of %q", key), key, ttl, func(expires func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error) {
		in := &s3.PutObjectInput{Bucket: &d.cfg.Bucket, Key: &key}
		d.applyPutOptions(&in.StorageClass, &in.ServerSideEncryption, &in.SSEKMSKeyId)
		return d.presign.PresignPutObject(ctx, in, expires)
	})
}

// PresignGet returns a URL for GETs (including ranged GETs) of key.
func (d *S3) PresignGet(ctx context.Context, key string, ttl time.Duration) (PresignedURL, error) {
	return d.presigned(fmt.Sprintf("presign get of %q", key), key, ttl, func(expires func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error) {
		return d.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &d.cfg.Bucket, Key: &key}, expires)
	})
}

func (d *S3) applyPutOptions(class *types.StorageClass, sse *types.ServerSideEncryption, kms **string) {
	if d.cfg.StorageClass != "" {
		*class = types.StorageClass(d.cfg.StorageClass)
	}
	if d.cfg.SSE != SSENone {
		*sse = types.ServerSideEncryption(d.cfg.SSE)
	}
	if d.cfg.SSEKMSKeyID != "" {
		*kms = aws.String(d.cfg.SSEKMSKeyID)
	}
}

// CreateMultipart starts a multipart upload of key with the configured storage class
// and SSE, so the parts need no extra headers.
func (d *S3) CreateMultipart(ctx context.Context, key string) (string, error) {
	op := fmt.Sprintf("create multipart upload of %q", key)
	if err := d.checkKey(op, key); err != nil {
		return "", err
	}
	in := &s3.CreateMultipartUploadInput{Bucket: &d.cfg.Bucket, Key: &key, ContentType: aws.String("application/octet-stream")}
	d.applyPutOptions(&in.StorageClass, &in.ServerSideEncryption, &in.SSEKMSKeyId)
	out, err := d.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return "", d.fail(op, err)
	}
	return aws.ToString(out.UploadId), nil
}

// MaxParts is the largest part number S3 accepts.
const MaxParts = 10000

// MinPartSize is the smallest size S3 accepts for any part but the last.
const MinPartSize = 5 << 20

// PresignPart returns a URL for a plain PUT of the raw bytes of one part; the ETag
// header of its response is what CompleteMultipart needs.
func (d *S3) PresignPart(ctx context.Context, key, uploadID string, partNumber int, ttl time.Duration) (PresignedURL, error) {
	op := fmt.Sprintf("presign part %d of upload %s of %q", partNumber, uploadID, key)
	if partNumber < 1 || partNumber > MaxParts {
		return PresignedURL{}, &Error{Op: op, Cause: CauseInvalid, Msg: fmt.Sprintf("part number must be 1 to %d", MaxParts)}
	}
	if uploadID == "" {
		return PresignedURL{}, &Error{Op: op, Cause: CauseInvalid, Msg: "empty upload id"}
	}
	n := int32(partNumber)
	return d.presigned(op, key, ttl, func(expires func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error) {
		return d.presign.PresignUploadPart(ctx, &s3.UploadPartInput{Bucket: &d.cfg.Bucket, Key: &key, UploadId: &uploadID, PartNumber: &n}, expires)
	})
}

// CompleteMultipart assembles the parts (in part-number order) into the object.
func (d *S3) CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) error {
	op := fmt.Sprintf("complete multipart upload %s of %q", uploadID, key)
	if err := d.checkKey(op, key); err != nil {
		return err
	}
	sorted, err := sortParts(parts)
	if err != nil {
		return &Error{Op: op, Cause: CauseInvalid, Msg: "invalid part list", Err: err}
	}
	completed := make([]types.CompletedPart, len(sorted))
	for i, p := range sorted {
		completed[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(p.ETag)}
	}
	_, err = d.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &d.cfg.Bucket, Key: &key, UploadId: &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
	})
	return d.fail(op, err)
}

// sortParts returns the parts sorted by number, refusing an empty list, numbers out of
// range and duplicates.
func sortParts(parts []Part) ([]Part, error) {
	if len(parts) == 0 {
		return nil, errors.New("no parts")
	}
	sorted := append([]Part(nil), parts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Number < sorted[j].Number })
	for i, p := range sorted {
		if p.Number < 1 || p.Number > MaxParts {
			return nil, fmt.Errorf("part number %d out of range 1 to %d", p.Number, MaxParts)
		}
		if i > 0 && sorted[i-1].Number == p.Number {
			return nil, fmt.Errorf("part %d listed twice", p.Number)
		}
		if p.ETag == "" {
			return nil, fmt.Errorf("part %d has no etag", p.Number)
		}
	}
	return sorted, nil
}

// AbortMultipart discards an upload and its parts; an unknown upload is ErrNotFound.
func (d *S3) AbortMultipart(ctx context.Context, key, uploadID string) error {
	op := fmt.Sprintf("abort multipart upload %s of %q", uploadID, key)
	if err := d.checkKey(op, key); err != nil {
		return err
	}
	_, err := d.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &d.cfg.Bucket, Key: &key, UploadId: &uploadID})
	return d.fail(op, err)
}

// ListUploads lists the incomplete multipart uploads of keys starting with prefix.
func (d *S3) ListUploads(ctx context.Context, prefix string) ([]Upload, error) {
	op := fmt.Sprintf("list multipart uploads under %q in bucket %q", prefix, d.cfg.Bucket)
	if err := d.checkPrefix(op, prefix); err != nil {
		return nil, err
	}
	var uploads []Upload
	p := s3.NewListMultipartUploadsPaginator(d.client, &s3.ListMultipartUploadsInput{Bucket: &d.cfg.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, d.fail(op, err)
		}
		for _, u := range page.Uploads {
			uploads = append(uploads, Upload{Key: aws.ToString(u.Key), UploadID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)})
		}
	}
	return uploads, nil
}

func (d *S3) checkPrefix(op, prefix string) error {
	if err := d.needBucket(op); err != nil {
		return err
	}
	if err := validatePrefix(prefix); err != nil {
		return &Error{Op: op, Cause: CauseInvalid, Msg: "invalid prefix", Err: err}
	}
	return nil
}

// Put stores a small object. size is its exact length, or -1 to read r into memory
// first (S3 needs the length up front).
func (d *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	op := fmt.Sprintf("put %q in bucket %q", key, d.cfg.Bucket)
	if err := d.checkKey(op, key); err != nil {
		return err
	}
	if size < 0 {
		b, err := io.ReadAll(r)
		if err != nil {
			return &Error{Op: op, Cause: CauseOther, Msg: "read the object", Err: err}
		}
		r, size = bytes.NewReader(b), int64(len(b))
	}
	in := &s3.PutObjectInput{Bucket: &d.cfg.Bucket, Key: &key, Body: r, ContentLength: aws.Int64(size), ContentType: aws.String("application/octet-stream")}
	d.applyPutOptions(&in.StorageClass, &in.ServerSideEncryption, &in.SSEKMSKeyId)
	var optFns []func(*s3.Options)
	if _, ok := r.(io.Seeker); !ok {
		// SigV4 hashes the payload before sending, which a stream cannot do without
		// reading it twice; sign it as UNSIGNED-PAYLOAD instead.
		optFns = append(optFns, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
	}
	_, err := d.client.PutObject(ctx, in, optFns...)
	return d.fail(op, err)
}

// Get opens key for reading; the caller closes the reader. A missing key is ErrNotFound.
func (d *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	op := fmt.Sprintf("get %q from bucket %q", key, d.cfg.Bucket)
	if err := d.checkKey(op, key); err != nil {
		return nil, err
	}
	out, err := d.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &d.cfg.Bucket, Key: &key})
	if err != nil {
		return nil, d.fail(op, err)
	}
	return out.Body, nil
}

// Stat describes key; a missing key is ErrNotFound.
func (d *S3) Stat(ctx context.Context, key string) (Object, error) {
	op := fmt.Sprintf("stat %q in bucket %q", key, d.cfg.Bucket)
	if err := d.checkKey(op, key); err != nil {
		return Object{}, err
	}
	out, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.cfg.Bucket, Key: &key})
	if err != nil {
		return Object{}, d.fail(op, err)
	}
	return Object{Key: key, Size: aws.ToInt64(out.ContentLength), Modified: aws.ToTime(out.LastModified), ETag: aws.ToString(out.ETag)}, nil
}

// List returns every object whose key starts with prefix, in key order.
func (d *S3) List(ctx context.Context, prefix string) ([]Object, error) {
	var objs []Object
	err := d.walk(ctx, "list", prefix, func(o Object) { objs = append(objs, o) })
	return objs, err
}

// Usage sums the objects under prefix.
func (d *S3) Usage(ctx context.Context, prefix string) (Usage, error) {
	var u Usage
	err := d.walk(ctx, "measure usage", prefix, func(o Object) { u.Objects++; u.Bytes += o.Size })
	return u, err
}

func (d *S3) walk(ctx context.Context, what, prefix string, fn func(Object)) error {
	op := fmt.Sprintf("%s under %q in bucket %q", what, prefix, d.cfg.Bucket)
	if err := d.checkPrefix(op, prefix); err != nil {
		return err
	}
	p := s3.NewListObjectsV2Paginator(d.client, &s3.ListObjectsV2Input{Bucket: &d.cfg.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return d.fail(op, err)
		}
		for _, o := range page.Contents {
			fn(Object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified), ETag: aws.ToString(o.ETag)})
		}
	}
	return nil
}

// Delete removes key; deleting a missing key is not an error.
func (d *S3) Delete(ctx context.Context, key string) error {
	op := fmt.Sprintf("delete %q from bucket %q", key, d.cfg.Bucket)
	if err := d.checkKey(op, key); err != nil {
		return err
	}
	_, err := d.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &d.cfg.Bucket, Key: &key})
	return d.fail(op, err)
}

// testPrefix is where Test writes its probe objects.
const testPrefix = ".backapp-test/"

// Test checks, in this order, that the endpoint answers, the credentials are accepted,
// the bucket exists and an object can be written and deleted. The error is an *Error
// whose Cause and message name the first problem found.
func (d *S3) Test(ctx context.Context) error {
	op := fmt.Sprintf("test bucket %q at %s", d.cfg.Bucket, d.where)
	if err := d.needBucket(op); err != nil {
		return err
	}
	// A listing, not HeadBucket: errors of HEAD requests have no body, so "wrong secret"
	// and "access denied" would look alike. One attempt: a person is waiting.
	_, err := d.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &d.cfg.Bucket, MaxKeys: aws.Int32(1)},
		func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		return d.fail(op, err)
	}
	key := testPrefix + "probe-" + randomHex(8)
	if err := d.Put(ctx, key, strings.NewReader("backapp write test\n"), -1); err != nil {
		return fmt.Errorf("%s: write a probe object: %w", op, err)
	}
	if err := d.Delete(ctx, key); err != nil {
		return fmt.Errorf("%s: delete the probe object %q: %w", op, key, err)
	}
	return nil
}

// ListBuckets returns the names of the buckets the credentials can see. It works
// without a configured bucket, for choosing one in the UI.
func (d *S3) ListBuckets(ctx context.Context) ([]string, error) {
	op := fmt.Sprintf("list buckets at %s", d.where)
	var names []string
	p := s3.NewListBucketsPaginator(d.client, &s3.ListBucketsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
		if err != nil {
			return nil, d.fail(op, err)
		}
		for _, b := range page.Buckets {
			names = append(names, aws.ToString(b.Name))
		}
	}
	sort.Strings(names)
	return names, nil
}

// CreateBucket creates the configured bucket in the configured region.
func (d *S3) CreateBucket(ctx context.Context) error {
	op := fmt.Sprintf("create bucket %q at %s", d.cfg.Bucket, d.where)
	if err := d.needBucket(op); err != nil {
		return err
	}
	in := &s3.CreateBucketInput{Bucket: &d.cfg.Bucket}
	if d.cfg.Region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(d.cfg.Region)}
	}
	_, err := d.client.CreateBucket(ctx, in)
	return d.fail(op, err)
}

// lifecycleRuleID names the rule EnsureAbortIncompleteUploads manages, so it replaces
// its own rule and keeps everyone else's.
const lifecycleRuleID = "backapp-abort-incomplete-multipart-uploads"

// EnsureAbortIncompleteUploads installs (or updates) a bucket lifecycle rule that
// aborts multipart uploads days after they started, keeping the bucket's other rules.
// Servers without lifecycle support (versitygw, some MinIO set-ups) give an error
// wrapping ErrNotSupported.
func (d *S3) EnsureAbortIncompleteUploads(ctx context.Context, days int) error {
	op := fmt.Sprintf("set lifecycle rule on bucket %q at %s", d.cfg.Bucket, d.where)
	if err := d.needBucket(op); err != nil {
		return err
	}
	if days < 1 {
		return &Error{Op: op, Cause: CauseInvalid, Msg: fmt.Sprintf("days must be at least 1, not %d", days)}
	}
	var rules []types.LifecycleRule
	out, err := d.client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &d.cfg.Bucket})
	var api smithy.APIError
	switch {
	case err == nil:
		for _, r := range out.Rules {
			if aws.ToString(r.ID) != lifecycleRuleID {
				rules = append(rules, r)
			}
		}
	case errors.As(err, &api) && api.ErrorCode() == "NoSuchLifecycleConfiguration":
	default:
		return d.lifecycleFail(op, err)
	}
	rules = append(rules, types.LifecycleRule{
		ID:                             aws.String(lifecycleRuleID),
		Status:                         types.ExpirationStatusEnabled,
		Filter:                         &types.LifecycleRuleFilter{Prefix: aws.String("")},
		AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(int32(days))},
	})
	_, err = d.client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
		Bucket:                 &d.cfg.Bucket,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules},
	})
	return d.lifecycleFail(op, err)
}

func (d *S3) lifecycleFail(op string, err error) error {
	err = d.fail(op, err)
	var e *Error
	if errors.As(err, &e) && e.Cause == CauseNotSupported {
		e.Msg = "bucket lifecycle rules are not supported by this server; abort stale uploads another way"
	}
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}
