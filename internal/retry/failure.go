package retry

import "time"

// Failure is a classified failure of a step's attempt, of any step type: a
// call_api request (the webhook package), an update_record step, a secret
// that does not open, a run that cannot be executed. It carries what the
// retry rules read: the class, and for an HTTP answer its status and
// Retry-After (see Retryable and Policy.Next).
type Failure struct {
	Class      Class
	Message    string
	Status     int           // the HTTP status of an http_4xx or http_5xx failure
	RetryAfter time.Duration // from a 429 or 503 response (see HonoursRetryAfter)
}

func (f *Failure) Error() string { return string(f.Class) + ": " + f.Message }

// Retryable reports whether the failure is worth another attempt (see the
// function Retryable).
func (f *Failure) Retryable() bool { return Retryable(f.Class, f.Status) }
