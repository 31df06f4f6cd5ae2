package main

import (
	"bytes"
	"os"
	"testing"
)

// TestAuthorizeIsGenerated fails when authorize.go is not what the
// Service interface generates: an operation added without its guard.
func TestAuthorizeIsGenerated(t *testing.T) {
	want, err := generate("..")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../authorize.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("internal/autohook/authorize.go is not what the Service interface generates: run\n\tgo generate ./internal/autohook\nand give each new operation its role in MinRole (internal/autohook/roles.go)")
	}
}
