package service_test

import (
	"context"
	"errors"
	"testing"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/service"
	"github.com/autohook/autohook/internal/store"
)

// otherNode is a second node on s's PostgreSQL database, whose catalog
// knows other nodes share it; without workers: it only inserts jobs.
func (s *stack) otherNode(t *testing.T) *service.Service {
	t.Helper()
	svc, _ := openNode(t, store.Config{URL: s.url, MaxConns: 4}, true)
	return svc
}

// TestDefinitionsExactAcrossNodes: node B caches a collection and its
// automations; changes made on node A count on B at once — an automation
// enabled on A fires for a record created (or updated) on B, and a field
// added on A is accepted on B — because B's writes check the generation
// they were planned with and plan again when it moved.
func TestDefinitionsExactAcrossNodes(t *testing.T) {
	ctx := owner(context.Background())
	a := newStack(t, true)
	b := a.otherNode(t)
	orders := &record.Collection{Key: "orders", Name: "Orders", Fields: []record.Field{{Key: "name", Type: record.Text}}}
	if err := a.svc.CreateCollection(ctx, a.org, orders); err != nil {
		t.Fatal(err)
	}
	runsOf := func(rec *record.Record) int {
		t.Helper()
		if rec == nil {
			return -1
		}
		var n int
		if err := a.db.QueryRow(`SELECT count(*) FROM runs WHERE record_id = $1`, rec.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	create := func(fields map[string]any) (*record.Record, error) {
		return b.CreateRecord(ctx, a.org, "orders", autohook.RecordInput{Fields: fields})
	}
	// B reads and caches the definitions: no automation yet.
	first, err := create(map[string]any{"name": "first"})
	if err != nil || runsOf(first) != 0 {
		t.Fatalf("first record on B: %v, %d runs; want none", err, runsOf(first))
	}

	// Enabled on A: B's next record fires it.
	hook := &automation.Automation{Name: "Hook", Collection: "orders", Enabled: true, Trigger: automation.Trigger{Type: automation.RecordAdded},
		Steps: []automation.StepSpec{{ID: "send", Type: automation.TypeCallAPI, Method: "POST", URL: "https://hooks.example/{record.id}"}}}
	if _, _, err := a.svc.SaveAutomation(ctx, a.org, hook); err != nil {
		t.Fatal(err)
	}
	// With an Idempotency-Key too: the abandoned try used none of it.
	second, err := b.CreateRecord(ctx, a.org, "orders", autohook.RecordInput{Fields: map[string]any{"name": "second"}, IdempotencyKey: "second"})
	if err != nil || runsOf(second) != 1 {
		t.Errorf("record on B after the automation was enabled on A: %v, %d runs; want 1", err, runsOf(second))
	}

	// A field added on A is accepted on B, whose cache had the old
	// collection; a field the collection does not have still is not.
	orders.Fields = append(orders.Fields, record.Field{Key: "amount", Type: record.Number})
	if err := a.svc.UpdateCollection(ctx, a.org, orders); err != nil {
		t.Fatal(err)
	}
	if _, err := create(map[string]any{"name": "third", "amount": 3}); err != nil {
		t.Errorf("record on B with the field added on A: %v", err)
	}
	if _, err := create(map[string]any{"name": "fourth", "colour": "red"}); err == nil {
		t.Error("record on B with an unknown field was accepted")
	}

	// The same for updates: a record_updated automation enabled on A, and
	// a field added on A, count for an update made on B.
	updated := &automation.Automation{Name: "On update", Collection: "orders", Enabled: true, Trigger: automation.Trigger{Type: automation.RecordUpdated},
		Steps: []automation.StepSpec{{ID: "send", Type: automation.TypeCallAPI, Method: "POST", URL: "https://hooks.example/{record.id}"}}}
	if _, _, err := a.svc.SaveAutomation(ctx, a.org, updated); err != nil {
		t.Fatal(err)
	}
	orders.Fields = append(orders.Fields, record.Field{Key: "note", Type: record.Text})
	if err := a.svc.UpdateCollection(ctx, a.org, orders); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UpdateRecord(ctx, a.org, "orders", first.ID, autohook.RecordInput{Fields: map[string]any{"note": "changed"}}); err != nil {
		t.Errorf("update on B with the field added on A: %v", err)
	}
	if n := runsOf(first); n != 1 {
		t.Errorf("update on B after a record_updated automation was enabled on A: %d runs, want 1", n)
	}

	// Disabled on A: B's next record fires nothing.
	hook.Enabled = false
	if _, _, err := a.svc.SaveAutomation(ctx, a.org, hook); err != nil {
		t.Fatal(err)
	}
	last, err := create(map[string]any{"name": "last"})
	if err != nil || runsOf(last) != 0 {
		t.Errorf("record on B after the automation was disabled on A: %v, %d runs; want none", err, runsOf(last))
	}
	if errors.Is(err, store.ErrStaleDefs) {
		t.Error("ErrStaleDefs reached the caller")
	}
}
