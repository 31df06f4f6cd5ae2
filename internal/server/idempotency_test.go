package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
)

// TestIdempotencyKey: a record creation sent again with the same
// Idempotency-Key (a client retrying after a 503 whose commit went through,
// or after a dropped connection) answers the record the first one created
// and triggers nothing more; the same key with other input is a conflict;
// requests racing with one key create one record.
func TestIdempotencyKey(t *testing.T) { eachDB(t, testIdempotencyKey) }

func testIdempotencyKey(t *testing.T, db func(*server.Config)) {
	nd := startNode(t, db)
	var hits atomic.Int64
	rcv := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	nd.must(201, "POST", "/api/v1/collections", map[string]any{"key": "leads", "name": "Leads",
		"fields": []any{map[string]any{"key": "name", "type": "text"}}}, nil)
	var auto struct{ ID string }
	nd.must(201, "POST", "/api/v1/automations", map[string]any{
		"name": "push", "collection": "leads", "trigger": map[string]any{"type": "record_added"},
		"steps": []any{map[string]any{"id": "send", "type": "call_api", "method": "POST", "url": rcv.URL + "/hook"}},
	}, &auto)

	create := func(c *servertest.Client, name string) servertest.Answer {
		t.Helper()
		return c.Do(t, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": name}})
	}
	id := func(a servertest.Answer) string {
		t.Helper()
		var rec struct{ ID string }
		a.Decode(t, &rec)
		return rec.ID
	}

	k1 := nd.Client.With("Idempotency-Key", "order-1")
	first := create(k1, "Ada")
	again := create(k1, "Ada")
	if first.Status != 201 || again.Status != 201 || id(first) != id(again) {
		t.Fatalf("same key twice: %d %s, then %d %s; want 201 and the same record", first.Status, first.Body, again.Status, again.Body)
	}
	if other := create(k1, "Grace"); other.Status != http.StatusConflict {
		t.Errorf("same key, other fields: %d %s, want 409", other.Status, other.Body)
	}
	if other := create(nd.Client.With("Idempotency-Key", "order-2"), "Ada"); other.Status != 201 || id(other) == id(first) {
		t.Errorf("another key: %d %s, want a new record", other.Status, other.Body)
	}
	for _, bad := range []string{"has space", strings.Repeat("k", 256), "é"} {
		a := create(nd.Client.With("Idempotency-Key", bad), "Ada")
		if a.Status != http.StatusUnprocessableEntity || !containsPath(a.Body, "Idempotency-Key") {
			t.Errorf("key %.20q: %d %s, want 422 naming Idempotency-Key", bad, a.Status, a.Body)
		}
	}

	// Ten requests at once with one key: one record, the same for all.
	raced := nd.Client.With("Idempotency-Key", "order-3")
	ids := make([]string, 10)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			a, err := raced.Send(context.Background(), "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "Raced"}})
			if err != nil || a.Status != 201 {
				t.Errorf("racing request: %v %d %s", err, a.Status, a.Body)
				return
			}
			var rec struct{ ID string }
			a.Decode(t, &rec)
			ids[i] = rec.ID
		})
	}
	wg.Wait()
	for _, got := range ids {
		if got != ids[0] {
			t.Fatalf("racing requests with one key answered records %v, want one", ids)
		}
	}

	// Three records in all (order-1, order-2, order-3), each with one run.
	var recs struct{ Items []struct{ ID string } }
	nd.must(200, "GET", "/api/v1/collections/leads/records", nil, &recs)
	if len(recs.Items) != 3 {
		t.Errorf("%d records, want 3", len(recs.Items))
	}
	// One run per record, finished, and no more: waitRuns fails the test
	// unless exactly three runs exist once all have finished.
	nd.waitRuns(auto.ID, 3)
	if n := hits.Load(); n != 3 {
		t.Errorf("the receiver got %d requests, want 3", n)
	}
}

// containsPath reports whether an error envelope names path in its details.
func containsPath(body []byte, path string) bool {
	var e struct {
		Error struct{ Details []struct{ Path string } }
	}
	if json.Unmarshal(body, &e) != nil {
		return false
	}
	for _, d := range e.Error.Details {
		if d.Path == path {
			return true
		}
	}
	return false
}
