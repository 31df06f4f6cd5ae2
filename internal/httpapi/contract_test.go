package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/autohook/autohook/internal/apicontract"
)

var (
	checkerOnce sync.Once
	checkerVal  *apicontract.Checker
	checkerErr  error
)

// checker is the contract of the embedded document: the handler-level
// suites (tenancy, security) send every request through it, as the
// end-to-end suites do through servertest.
func checker(t *testing.T) *apicontract.Checker {
	t.Helper()
	checkerOnce.Do(func() { checkerVal, checkerErr = apicontract.New(openAPI) })
	if checkerErr != nil {
		t.Fatal(checkerErr)
	}
	return checkerVal
}

// TestOpenAPIValid: kin-openapi loads the document and finds it valid,
// examples included.
func TestOpenAPIValid(t *testing.T) {
	t.Parallel()
	checker(t)
}

// BenchmarkContractCheck is what the contract adds to each exchange of an
// end-to-end test: a record created, checked both ways against the real
// document.
func BenchmarkContractCheck(b *testing.B) {
	c, err := apicontract.New(openAPI)
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"fields":{"name":"Ada","value":2500},"stage":"New"}`)
	resp := []byte(`{"id":"rec_01","collection":"leads","stage":"New","fields":{"name":"Ada","value":2500},"createdAt":"2026-01-02T15:04:05Z","updatedAt":"2026-01-02T15:04:05Z","version":1}`)
	h := http.Header{"Content-Type": {"application/json"}}
	for b.Loop() {
		req := httptest.NewRequest("POST", "/api/v1/collections/leads/records", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer k")
		if err := c.Check(req, body, 201, h, resp); err != nil {
			b.Fatal(err)
		}
	}
}
