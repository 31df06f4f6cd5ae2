package httpapi

import (
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
