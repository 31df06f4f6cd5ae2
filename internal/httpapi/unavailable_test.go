package httpapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/autohook/autohook/internal/autohook"
)

// An error that says the database is unavailable, however deeply wrapped,
// answers 503 unavailable with Retry-After: the one mapping of the API
// (the chaos suite shows it under real outages).
func TestUnavailableAnswers503(t *testing.T) {
	t.Parallel()
	a := &API{log: slog.New(slog.DiscardHandler)}
	for _, err := range []error{
		autohook.ErrUnavailable,
		fmt.Errorf("create record: insert: %w", autohook.ErrUnavailable),
	} {
		rec := httptest.NewRecorder()
		a.fail(rec, httptest.NewRequest("POST", "/api/v1/collections/leads/records", nil), err)
		var body errorBody
		if jerr := json.Unmarshal(rec.Body.Bytes(), &body); jerr != nil {
			t.Fatalf("%v: body %q: %v", err, rec.Body, jerr)
		}
		if rec.Code != http.StatusServiceUnavailable || body.Error.Code != "unavailable" || rec.Header().Get("Retry-After") != "5" {
			t.Errorf("%v: %d %q Retry-After %q, want 503 unavailable with Retry-After 5", err, rec.Code, body.Error.Code, rec.Header().Get("Retry-After"))
		}
	}
}
