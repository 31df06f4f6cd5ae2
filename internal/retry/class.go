package retry

import "net/http"

// Class is the class of a failed attempt. The strings are stored in history,
// so they must not change.
type Class string

// The failure classes.
const (
	Network            Class = "network"             // refused, reset, DNS failure
	Timeout            Class = "timeout"             // the step's timeout ran out
	HTTP4xx            Class = "http_4xx"            // the server answered 4xx
	HTTP5xx            Class = "http_5xx"            // the server answered 5xx
	InvalidURL         Class = "invalid_url"         // the rendered URL is unusable
	BlockedDestination Class = "blocked_destination" // refused by the egress policy
	Render             Class = "render"              // template evaluation or conversion
	Response           Class = "response"            // unparsable JSON, too large, required pointer missing
	Record             Class = "record"              // update_record: the record is gone, or a field no longer exists
	Secret             Class = "secret"              // a secret or signing secret does not open with this node's keys
	Internal           Class = "internal"            // Autohook cannot execute the run as stored (a version that no longer compiles, a bug)
)

// Valid reports whether c is one of the classes above.
func (c Class) Valid() bool {
	switch c {
	case Network, Timeout, HTTP4xx, HTTP5xx, InvalidURL, BlockedDestination, Render, Response, Record, Secret, Internal:
		return true
	}
	return false
}

// Retryable reports whether a failure of class c, with HTTP status status
// when the server answered, is worth another attempt: network, timeout and
// 5xx failures are; of the 4xx answers only 408 Request Timeout, 425 Too Early
// and 429 Too Many Requests; nothing else is, since trying again would fail
// the same way.
func Retryable(c Class, status int) bool {
	switch c {
	case Network, Timeout, HTTP5xx:
		return true
	case HTTP4xx:
		switch status {
		case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
			return true
		}
	}
	return false
}

// HonoursRetryAfter reports whether a Retry-After header on a response with
// this status sets the wait before the next attempt: 429 Too Many Requests
// and 503 Service Unavailable.
func HonoursRetryAfter(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
}
