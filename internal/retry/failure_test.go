package retry

import (
	"testing"
	"time"
)

func TestFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		f         Failure
		err       string
		retryable bool
	}{
		{Failure{Class: HTTP4xx, Message: "the receiver answered 429 Too Many Requests", Status: 429, RetryAfter: 3 * time.Second}, "http_4xx: the receiver answered 429 Too Many Requests", true},
		{Failure{Class: HTTP4xx, Message: "the receiver answered 404 Not Found", Status: 404}, "http_4xx: the receiver answered 404 Not Found", false},
		{Failure{Class: HTTP5xx, Message: "the receiver answered 502 Bad Gateway", Status: 502}, "http_5xx: the receiver answered 502 Bad Gateway", true},
		{Failure{Class: Record, Message: "record rec_1 no longer exists"}, "record: record rec_1 no longer exists", false},
		{Failure{Class: Network, Message: "connection refused"}, "network: connection refused", true},
	}
	for _, tc := range tests {
		if got := tc.f.Error(); got != tc.err {
			t.Errorf("Error() = %q, want %q", got, tc.err)
		}
		if got := tc.f.Retryable(); got != tc.retryable {
			t.Errorf("%s: Retryable() = %v, want %v", tc.err, got, tc.retryable)
		}
	}
}
