package webui

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/autohook/autohook/internal/autohook"
)

// While the database is unavailable a page answers 503 with a page that
// says so (not "something went wrong"), and the UI's script gets the same
// message as JSON.
func TestUnavailablePage(t *testing.T) {
	t.Parallel()
	u := &UI{log: slog.New(slog.DiscardHandler), pages: parseTemplates()}
	err := fmt.Errorf("list records: %w", autohook.ErrUnavailable)

	rec := httptest.NewRecorder()
	u.fail(rec, httptest.NewRequest("GET", "/records/leads", nil), nil, err)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("page: status %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if body := rec.Body.String(); !strings.Contains(body, "Database unavailable") || !strings.Contains(body, "nothing was saved") {
		t.Errorf("page does not say the database is unavailable:\n%s", body)
	}

	rec = httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/records/leads/new", nil)
	req.Header.Set("Accept", "application/json")
	u.fail(rec, req, nil, err)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "cannot use its database") {
		t.Errorf("script: %d %s, want 503 with the message", rec.Code, rec.Body)
	}
}
