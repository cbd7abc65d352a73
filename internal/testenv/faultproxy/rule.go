package faultproxy

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// A Rule picks requests and injects a fault into them.
//
// Each rule counts the requests its Match accepts and draws from its own random
// source (seeded from [Config.Seed] and the rule's position), so one rule's choices do
// not shift when another rule is added, and the same sequence of requests gets the same
// faults on every run. Concurrent requests reach the rules in whatever order they
// arrive; tests that need exact positions should send requests one at a time.
//
// Which matching requests are picked: those listed in Nth if it is set, else each one
// with Probability if it is above zero, else all of them; and no more than Limit if it
// is above zero.
type Rule struct {
	// Name labels the rule in [Stats.ByRule]. Optional.
	Name string

	// Match selects the requests the rule applies to; nil matches every request.
	// It runs under the proxy's lock, must not block and must not read the body.
	Match Match

	// Nth lists the 1-based positions, among the requests Match accepts, of those
	// that get the fault: Nth: []int{1, 3} faults the first and third.
	Nth []int

	// Probability is the chance that a matching request gets the fault, in (0, 1].
	Probability float64

	// Limit caps how many requests the rule picks; 0 means no cap.
	Limit int

	// Fault is what happens to a picked request: [Respond], [ResetRequestBody],
	// [ResetResponseBody], [Delay] or [Throttle].
	//
	// A request gets at most one of Respond, ResetRequestBody and ResetResponseBody
	// (those end it): the first such rule, in order, that picks it. Every picking
	// Delay (added up) and Throttle (the lowest rate) applies as well.
	Fault Fault
}

// A Fault is what a [Rule] does to the requests it picks.
type Fault interface {
	kind() Kind
}

// Kind names a kind of fault, as counted in [Stats].
type Kind string

// The kinds of fault.
const (
	KindRespond           Kind = "respond"
	KindResetRequestBody  Kind = "reset-request-body"
	KindResetResponseBody Kind = "reset-response-body"
	KindDelay             Kind = "delay"
	KindThrottle          Kind = "throttle"
)

// Respond answers the request itself with an S3-style XML error, without forwarding it:
//
//	<Error><Code>SlowDown</Code><Message>...</Message><Resource>/path</Resource><RequestId>...</RequestId></Error>
type Respond struct {
	Status  int    // HTTP status, such as 500, 503 or 429
	Code    string // S3 error code; empty means one derived from Status
	Message string // optional human-readable message
	// Header is added to the response (for example Retry-After). Optional.
	Header http.Header
}

// SlowDown is S3's answer to too many requests: 503 SlowDown.
func SlowDown() Respond {
	return Respond{Status: http.StatusServiceUnavailable, Code: "SlowDown", Message: "Please reduce your request rate."}
}

// InternalError is S3's answer to a failure on its side: 500 InternalError.
func InternalError() Respond {
	return Respond{Status: http.StatusInternalServerError, Code: "InternalError", Message: "We encountered an internal error. Please try again."}
}

// ResetRequestBody forwards the request but resets both connections (the client's
// with a TCP RST) once After bytes of the request body have been read, so the client
// sees its upload fail mid-body and the upstream sees a truncated request. A body of
// After bytes or fewer is forwarded whole and nothing is reset or counted.
type ResetRequestBody struct {
	After int64
}

// ResetResponseBody forwards the request and the response status and headers, sends
// the first After bytes of the response body, then resets the client's connection
// with a TCP RST. A body of After bytes or fewer is sent whole and nothing is reset or
// counted.
type ResetResponseBody struct {
	After int64
}

// Delay waits for Duration before forwarding (or responding), or until the request is
// cancelled or the proxy closed.
type Delay struct {
	Duration time.Duration
}

// Throttle caps both the request body sent upstream and the response body sent back at
// BytesPerSecond each.
type Throttle struct {
	BytesPerSecond int64
}

func (Respond) kind() Kind           { return KindRespond }
func (ResetRequestBody) kind() Kind  { return KindResetRequestBody }
func (ResetResponseBody) kind() Kind { return KindResetResponseBody }
func (Delay) kind() Kind             { return KindDelay }
func (Throttle) kind() Kind          { return KindThrottle }

func terminal(f Fault) bool {
	switch f.(type) {
	case Respond, ResetRequestBody, ResetResponseBody:
		return true
	}
	return false
}

// Match reports whether a rule applies to a request.
type Match func(*http.Request) bool

// Methods matches requests with one of the given methods.
func Methods(methods ...string) Match {
	return func(r *http.Request) bool { return slices.Contains(methods, r.Method) }
}

// HasQuery matches requests whose query has every one of the keys, with any value:
// HasQuery("partNumber", "uploadId") matches S3 part uploads (with Methods("PUT")).
func HasQuery(keys ...string) Match {
	return func(r *http.Request) bool {
		q := r.URL.Query()
		for _, k := range keys {
			if !q.Has(k) {
				return false
			}
		}
		return true
	}
}

// PathPrefix matches requests whose URL path starts with prefix.
func PathPrefix(prefix string) Match {
	return func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, prefix) }
}

// All matches requests that every one of ms matches.
func All(ms ...Match) Match {
	return func(r *http.Request) bool {
		for _, m := range ms {
			if !m(r) {
				return false
			}
		}
		return true
	}
}

// PartUploads matches S3 multipart part uploads: PUT with partNumber and uploadId in
// the query.
func PartUploads() Match {
	return All(Methods(http.MethodPut), HasQuery("partNumber", "uploadId"))
}
