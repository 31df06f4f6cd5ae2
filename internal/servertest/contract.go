package servertest

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/autohook/autohook/internal/apicontract"
)

// checkers caches a Checker per served document: loading and validating
// it takes longer than most tests' requests.
var checkers sync.Map // string(document) -> *apicontract.Checker

// contractClient returns an HTTP client whose every exchange with the node
// at base is checked against the OpenAPI document the node serves
// (apicontract): a test that uses the node's Client cannot pass while the
// document and the server disagree.
func contractClient(t testing.TB, base string) *http.Client {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+"/api/v1/openapi.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET openapi.json: %v", err)
	}
	doc, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET openapi.json: %d %v", resp.StatusCode, err)
	}
	c, ok := checkers.Load(string(doc))
	if !ok {
		chk, err := apicontract.New(doc)
		if err != nil {
			t.Fatalf("the served document: %v", err)
		}
		c, _ = checkers.LoadOrStore(string(doc), chk)
	}
	return &http.Client{Transport: c.(*apicontract.Checker).Transport(t, nil)}
}
