package destinations

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/storage"
)

// Settings are an S3 destination's settings, without credentials. They are stored as
// the destination's settings JSON and are the JSON API's field names.
type Settings struct {
	// Endpoint is the server's URL ("https://s3.eu-central-003.backblazeb2.com");
	// empty means AWS S3 in Region.
	Endpoint string `json:"endpoint,omitempty"`
	Region   string `json:"region,omitempty"`
	Bucket   string `json:"bucket,omitempty"`
	// PathStyle addresses buckets as endpoint/bucket (MinIO, Ceph, versitygw).
	PathStyle    bool   `json:"pathStyle,omitempty"`
	StorageClass string `json:"storageClass,omitempty"`
	// SSE is "" (none), "AES256" or "aws:kms"; SSEKMSKeyID goes with aws:kms.
	SSE         string `json:"sse,omitempty"`
	SSEKMSKeyID string `json:"sseKmsKeyId,omitempty"`
}

// Credentials are an S3 access key pair. They are sealed at rest and never leave the
// server once saved.
type Credentials struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// Input is what a person enters to create or change a destination.
type Input struct {
	Name string
	Settings
	// Credentials may be left empty when updating: the stored ones are kept.
	Credentials
}

// Form field names, as in the JSON API; validation errors are keyed by them.
const (
	FieldName            = "name"
	FieldEndpoint        = "endpoint"
	FieldRegion          = "region"
	FieldBucket          = "bucket"
	FieldStorageClass    = "storageClass"
	FieldSSE             = "sse"
	FieldSSEKMSKeyID     = "sseKmsKeyId"
	FieldAccessKeyID     = "accessKeyId"
	FieldSecretAccessKey = "secretAccessKey"
)

// MaxNameLength is the longest destination name, in characters.
const MaxNameLength = 100

var (
	bucketRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionRE       = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	storageClassRE = regexp.MustCompile(`^[A-Z_]{1,64}$`)
)

// normalize trims what people paste with stray spaces.
func (s Settings) normalize() Settings {
	s.Endpoint = strings.TrimRight(strings.TrimSpace(s.Endpoint), "/")
	s.Region = strings.TrimSpace(s.Region)
	s.Bucket = strings.TrimSpace(s.Bucket)
	s.StorageClass = strings.TrimSpace(s.StorageClass)
	s.SSE = strings.TrimSpace(s.SSE)
	if s.SSE == "none" {
		s.SSE = storage.SSENone
	}
	s.SSEKMSKeyID = strings.TrimSpace(s.SSEKMSKeyID)
	return s
}

func (c Credentials) normalize() Credentials {
	return Credentials{AccessKeyID: strings.TrimSpace(c.AccessKeyID), SecretAccessKey: strings.TrimSpace(c.SecretAccessKey)}
}

func (c Credentials) empty() bool { return c.AccessKeyID == "" && c.SecretAccessKey == "" }

// credentialRule says whether validation needs credentials.
type credentialRule int

const (
	credsRequired credentialRule = iota // creating, or testing unsaved settings
	credsOptional                       // updating: none means keep the stored ones; one alone is an error
)

// check adds every problem with the settings to f. needBucket is false only for
// listing buckets.
func (s Settings) check(f apperr.Fields, needBucket bool) {
	if s.Endpoint != "" {
		u, err := url.Parse(s.Endpoint)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			f.Add(FieldEndpoint, "enter the endpoint as an http:// or https:// URL, e.g. https://s3.eu-central-1.wasabisys.com, or leave it empty for AWS")
		case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			f.Add(FieldEndpoint, "enter only the server's address, without a path (the bucket goes in its own field)")
		}
	}
	if s.Region != "" && !regionRE.MatchString(s.Region) {
		f.Add(FieldRegion, "a region is lowercase letters, digits and hyphens, e.g. us-east-1")
	}
	switch {
	case s.Bucket == "" && needBucket:
		f.Add(FieldBucket, "enter the bucket's name")
	case s.Bucket != "" && (!bucketRE.MatchString(s.Bucket) || strings.Contains(s.Bucket, "..")):
		f.Add(FieldBucket, "a bucket name is 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit")
	}
	if s.StorageClass != "" && !storageClassRE.MatchString(s.StorageClass) {
		f.Add(FieldStorageClass, "a storage class is uppercase letters and underscores, e.g. STANDARD_IA; leave it empty for the server's default")
	}
	switch s.SSE {
	case storage.SSENone, storage.SSEAES256:
		if s.SSEKMSKeyID != "" {
			f.Add(FieldSSEKMSKeyID, "a KMS key id needs server-side encryption with AWS KMS (aws:kms)")
		}
	case storage.SSEKMS:
	default:
		f.Add(FieldSSE, "choose none, AES256 or aws:kms")
	}
}

func (c Credentials) check(f apperr.Fields, rule credentialRule) {
	if rule == credsOptional && c.empty() {
		return
	}
	if c.AccessKeyID == "" {
		if rule == credsOptional {
			f.Add(FieldAccessKeyID, "enter the access key id too, or leave both key fields empty to keep the saved keys")
		} else {
			f.Add(FieldAccessKeyID, "enter the access key id")
		}
	} else if len(c.AccessKeyID) > 128 || strings.ContainsFunc(c.AccessKeyID, unicode.IsSpace) {
		f.Add(FieldAccessKeyID, "an access key id is at most 128 characters without spaces")
	}
	if c.SecretAccessKey == "" {
		if rule == credsOptional {
			f.Add(FieldSecretAccessKey, "enter the secret key too, or leave both key fields empty to keep the saved keys")
		} else {
			f.Add(FieldSecretAccessKey, "enter the secret access key")
		}
	} else if len(c.SecretAccessKey) > 256 || strings.ContainsFunc(c.SecretAccessKey, unicode.IsSpace) {
		f.Add(FieldSecretAccessKey, "a secret key is at most 256 characters without spaces")
	}
}

func checkName(f apperr.Fields, name string) {
	switch {
	case name == "":
		f.Add(FieldName, "enter a name, e.g. \"Offsite (Wasabi)\"")
	case len([]rune(name)) > MaxNameLength:
		f.Add(FieldName, "a name is at most %d characters", MaxNameLength)
	case strings.ContainsFunc(name, unicode.IsControl):
		f.Add(FieldName, "a name cannot contain control characters")
	}
}

// s3Config is the storage package's configuration for s and c.
func s3Config(s Settings, c Credentials) storage.S3Config {
	return storage.S3Config{
		Endpoint: s.Endpoint, Region: s.Region, Bucket: s.Bucket, PathStyle: s.PathStyle,
		AccessKey: c.AccessKeyID, SecretKey: c.SecretAccessKey,
		StorageClass: s.StorageClass, SSE: s.SSE, SSEKMSKeyID: s.SSEKMSKeyID,
	}
}

// Validate checks settings and credentials without contacting the server, reporting
// every problem at once (an apperr Invalid error with Fields), for forms and
// POST /api/s3/validate. With saved set (editing a saved destination), empty
// credentials are fine: the saved ones are kept.
func Validate(s Settings, c Credentials, saved bool) error {
	f := apperr.Fields{}
	s, c = s.normalize(), c.normalize()
	s.check(f, true)
	rule := credsRequired
	if saved {
		rule = credsOptional
	}
	c.check(f, rule)
	if len(f) == 0 && !c.empty() {
		// The storage package has the last word; this only fires if the two disagree.
		if err := s3Config(s, c).Validate(); err != nil {
			return apperr.Wrap(apperr.Invalid, err, "%s", strings.TrimPrefix(err.Error(), "s3 destination: "))
		}
	}
	return f.Err()
}

// MaskAccessKey shows enough of an access key id to recognise it and no more:
// "AKIA…WXYZ".
func MaskAccessKey(id string) string {
	r := []rune(id)
	switch {
	case len(r) >= 12:
		return string(r[:4]) + "…" + string(r[len(r)-4:])
	case len(r) >= 6:
		return string(r[:2]) + "…"
	case len(r) > 0:
		return "…"
	}
	return ""
}

// causeField is the form field a storage failure's cause points at, "" for none.
func causeField(c storage.Cause) string {
	switch c {
	case storage.CauseCredentials, storage.CauseAccessDenied:
		return FieldAccessKeyID
	case storage.CauseNoSuchBucket:
		return FieldBucket
	case storage.CauseUnreachable, storage.CauseTLS:
		return FieldEndpoint
	case storage.CauseInvalid:
		return FieldRegion
	}
	return ""
}
