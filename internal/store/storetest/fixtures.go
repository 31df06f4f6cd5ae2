package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/store"
)

// write runs fn in a write transaction and fails t if it fails.
func write(t *testing.T, st *store.Store, fn func(ctx context.Context, tx *store.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := st.Write(ctx, func(tx *store.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

// try runs fn in a write transaction and returns its error.
func try(st *store.Store, fn func(ctx context.Context, tx *store.Tx) error) error {
	ctx := context.Background()
	return st.Write(ctx, func(tx *store.Tx) error { return fn(ctx, tx) })
}

// wantErr fails t unless err is target (nil: no error).
// checkByHash checks a lookup by token hash of something that expires at
// expires: found before then, ErrNotFound at and after it (find, at a
// time), and ErrNotFound for an unknown hash (unknown).
func checkByHash(t *testing.T, expires time.Time, find func(now time.Time) error, unknown func() error) {
	t.Helper()
	for _, c := range []struct {
		name string
		now  time.Time
		want error
	}{
		{"before expiry", expires.Add(-time.Microsecond), nil},
		{"at expiry", expires, store.ErrNotFound},
		{"after expiry", expires.Add(time.Hour), store.ErrNotFound},
	} {
		wantErr(t, c.name, find(c.now), c.want)
	}
	wantErr(t, "unknown hash", unknown(), store.ErrNotFound)
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	switch {
	case target == nil && err != nil:
		t.Errorf("%s: %v, want no error", what, err)
	case target != nil && !errors.Is(err, target):
		t.Errorf("%s: %v, want %v", what, err, target)
	}
}

// newOrg creates an organisation and returns its id.
func newOrg(t *testing.T, st *store.Store) string {
	t.Helper()
	var id string
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		o, err := tx.CreateOrganisation(ctx, "org "+t.Name())
		if o != nil {
			id = o.ID
		}
		return err
	})
	return id
}

var unique atomic.Int64

// uniq returns a string no other call returns, for values that are unique
// across organisations (emails, key hashes) in a shared store.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), unique.Add(1))
}

// leads is the collection most tests use.
func leads() *record.Collection {
	return &record.Collection{Key: "leads", Name: "Leads",
		Fields: []record.Field{{Key: "name", Type: record.Text}, {Key: "value", Type: record.Number}, {Key: "due", Type: record.Date}},
		Stages: []string{"New", "Won"}}
}

// newCollection creates leads in org.
func newCollection(t *testing.T, st *store.Store, org string) *record.Collection {
	t.Helper()
	c := leads()
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.CreateCollection(ctx, org, c) })
	return c
}

// newRecord inserts a record into leads (which need not exist).
func newRecord(t *testing.T, st *store.Store, org string, fields map[string]any) *record.Record {
	t.Helper()
	r := &record.Record{Collection: "leads", Stage: "New", Fields: fields}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.InsertRecord(ctx, org, r) })
	return r
}

// callAPI is a one-step automation document.
func callAPI(name string, trigger string) *automation.Automation {
	return &automation.Automation{Name: name, Collection: "leads", Enabled: true, Trigger: automation.Trigger{Type: trigger},
		Steps: []automation.StepSpec{{ID: "crm", Type: automation.TypeCallAPI, Method: "POST", URL: "https://crm.example.com/leads"}}}
}

// newAutomation saves a as a new automation of org.
func newAutomation(t *testing.T, st *store.Store, org string, a *automation.Automation) *automation.Automation {
	t.Helper()
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.SaveAutomation(ctx, org, a, "") })
	return a
}

// at is a time as the store keeps it: UTC, whole microseconds.
func at(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// newRunValue is a queued run of a two-step automation.
func newRunValue(recordID string) *automation.Run {
	return &automation.Run{AutomationID: "aut_x", AutomationVersion: 1, RecordID: recordID, Collection: "leads",
		Trigger: automation.TriggerInfo{Type: automation.RecordUpdated, At: at(time.Now())},
		Status:  automation.StatusQueued, Seq: 1, Depth: 2,
		Record:   map[string]any{"id": recordID, "name": "Ada", "value": json.Number("2000")},
		Previous: map[string]any{"id": recordID, "name": "Ada", "value": json.Number("1000")},
		Steps: []automation.StepState{
			{ID: "crm", Type: automation.TypeCallAPI, Status: automation.StepPending},
			{ID: "mark", Type: automation.TypeUpdateRecord, Status: automation.StepPending},
		}}
}

// newRun inserts a queued run into org.
func newRun(t *testing.T, st *store.Store, org, recordID string) *automation.Run {
	t.Helper()
	r := newRunValue(recordID)
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.InsertRun(ctx, org, r) })
	return r
}

// finish marks a run finished with status.
func finish(t *testing.T, st *store.Store, org string, r *automation.Run, status automation.Status) {
	t.Helper()
	now := at(time.Now())
	seq := r.Seq
	r.Status, r.FinishedAt, r.Seq = status, &now, r.Seq+1
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateRun(ctx, org, r, seq) })
}

// failedAttempt is an attempt answered 503.
func failedAttempt(n int) *automation.Attempt {
	return &automation.Attempt{N: n, StartedAt: at(time.Now()), DurationMs: 12.5,
		Request:  &automation.HTTPRequest{Method: "POST", URL: "https://crm.example.com/leads", Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"name":"Ada"}`},
		Response: &automation.HTTPResponse{Status: 503, Headers: map[string]string{"Retry-After": "3"}, Body: "busy", BodyTruncated: true},
		Error:    &automation.AttemptError{Class: retry.HTTP5xx, Message: "the receiver answered 503"}}
}

// waitFor polls cond until it holds, failing t after wait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recv waits for a value on ch, failing t after wait.
func recv[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("%s: nothing after %v", what, wait)
		panic("unreachable")
	}
}
