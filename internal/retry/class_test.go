package retry

import "testing"

func TestRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		class  Class
		status int
		want   bool
	}{
		{Network, 0, true},
		{Timeout, 0, true},
		{HTTP5xx, 500, true},
		{HTTP5xx, 502, true},
		{HTTP5xx, 503, true},
		{HTTP5xx, 599, true},
		{HTTP4xx, 400, false},
		{HTTP4xx, 401, false},
		{HTTP4xx, 403, false},
		{HTTP4xx, 404, false},
		{HTTP4xx, 408, true},
		{HTTP4xx, 409, false},
		{HTTP4xx, 413, false},
		{HTTP4xx, 422, false},
		{HTTP4xx, 425, true},
		{HTTP4xx, 429, true},
		{HTTP4xx, 451, false},
		{InvalidURL, 0, false},
		{BlockedDestination, 0, false},
		{Render, 0, false},
		{Response, 200, false},
		{Secret, 0, false},
		{Internal, 0, false},
		{Class(""), 0, false},
		{Class("NETWORK"), 0, false},
	}
	for _, tc := range tests {
		if got := Retryable(tc.class, tc.status); got != tc.want {
			t.Errorf("Retryable(%q, %d) = %v, want %v", tc.class, tc.status, got, tc.want)
		}
	}
}

func TestClassValid(t *testing.T) {
	t.Parallel()
	// The stored strings: changing one breaks history already written.
	stored := map[Class]string{
		Network:            "network",
		Timeout:            "timeout",
		HTTP4xx:            "http_4xx",
		HTTP5xx:            "http_5xx",
		InvalidURL:         "invalid_url",
		BlockedDestination: "blocked_destination",
		Render:             "render",
		Response:           "response",
		Secret:             "secret",
		Internal:           "internal",
	}
	for c, want := range stored {
		if string(c) != want {
			t.Errorf("class %q, want the stored string %q", c, want)
		}
		if !c.Valid() {
			t.Errorf("%q.Valid() = false, want true", c)
		}
	}
	for _, c := range []Class{"", "http_3xx", "Network", "network "} {
		if c.Valid() {
			t.Errorf("%q.Valid() = true, want false", c)
		}
	}
}

func TestHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]bool{200: false, 408: false, 425: false, 429: true, 500: false, 502: false, 503: true, 504: false} {
		if got := HonoursRetryAfter(status); got != want {
			t.Errorf("HonoursRetryAfter(%d) = %v, want %v", status, got, want)
		}
	}
}
