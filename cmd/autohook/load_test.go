package main

// Paced load and the accounting the fault tests share (ops_test.go and the
// chaos suite): records created at a steady rate through whichever nodes
// are up, by clients that behave as the API asks (a 503 `unavailable` is
// tried again after a pause, with the same Idempotency-Key: a commit cut
// off by the outage may have gone through), then, once every run has
// settled, the figures of docs/RELIABILITY.md — committed, delivered, lost,
// duplicated — with the checks behind them.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/servertest"
)

// loadConfig configures startLoad.
type loadConfig struct {
	prefix  string  // record names are prefix-00001, ...
	rate    float64 // records per second
	clients int     // concurrent creators (a stalled node holds one each)
	max     int     // stop after this many names (0: until stop)
	// targets returns the APIs of the nodes to use now, round robin.
	targets func() []*servertest.Client
}

// load creates records until stopped.
type load struct {
	cfg     loadConfig
	stopped atomic.Bool
	wg      sync.WaitGroup
	began   time.Time

	mu          sync.Mutex
	acked       map[string]string // name -> id of the record its 201 answered
	ackedIDs    []string
	unavailable int      // 503 unavailable answers, each with Retry-After
	badAnswers  []string // answers the contract does not allow: 500, 503 without Retry-After, ...
	transport   int      // requests that got no answer (the node was down or died)
	given       []string // names given up after a transport error: committed or not
	firstOK     time.Time
	lastAt      time.Time
}

// startLoad starts creating records in the collection leads.
func startLoad(cfg loadConfig) *load {
	l := &load{cfg: cfg, acked: map[string]string{}, began: time.Now()}
	names := make(chan string)
	l.wg.Go(func() {
		defer close(names)
		tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.rate))
		defer tick.Stop()
		for i := 1; cfg.max == 0 || i <= cfg.max; i++ {
			<-tick.C
			if l.stopped.Load() {
				return
			}
			names <- fmt.Sprintf("%s-%05d", cfg.prefix, i)
		}
	})
	var rr atomic.Int64
	for range cfg.clients {
		l.wg.Go(func() {
			for name := range names {
				l.create(name, &rr)
			}
		})
	}
	return l
}

// create creates one record, trying again after a 503 (with the same
// Idempotency-Key, as the API asks) until it is acknowledged, the load
// stops, or a request gets no answer.
func (l *load) create(name string, rr *atomic.Int64) {
	body := map[string]any{"fields": map[string]any{"name": name}}
	for {
		targets := l.cfg.targets()
		if len(targets) == 0 {
			if l.stopped.Load() {
				return
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		// The record's name is its Idempotency-Key: a 503 whose commit went
		// through after all (the connection dropped during COMMIT) is
		// answered, when tried again, with the record it created.
		api := targets[int(rr.Add(1))%len(targets)].With("Idempotency-Key", name)
		a, err := api.Send(context.Background(), "POST", "/api/v1/collections/leads/records", body)
		l.mu.Lock()
		l.lastAt = time.Now()
		switch {
		case err != nil:
			// The node died or was down: the record may or may not have
			// been committed. A new name is used for the next one.
			l.transport++
			l.given = append(l.given, name)
			l.mu.Unlock()
			time.Sleep(100 * time.Millisecond)
			return
		case a.Status == http.StatusCreated:
			var rec struct{ ID string }
			if json.Unmarshal(a.Body, &rec) != nil || rec.ID == "" {
				l.badAnswers = append(l.badAnswers, fmt.Sprintf("%s: 201 without an id: %s", name, a.Body))
			} else {
				l.acked[name] = rec.ID
				l.ackedIDs = append(l.ackedIDs, rec.ID)
				if l.firstOK.IsZero() {
					l.firstOK = time.Now()
				}
			}
			l.mu.Unlock()
			return
		case a.Status == http.StatusServiceUnavailable:
			var e struct {
				Error struct{ Code string }
			}
			_ = json.Unmarshal(a.Body, &e)
			if e.Error.Code != "unavailable" || a.Header.Get("Retry-After") == "" {
				l.badAnswers = append(l.badAnswers, fmt.Sprintf("%s: 503 %q with Retry-After %q, want code unavailable with Retry-After", name, a.Body, a.Header.Get("Retry-After")))
			}
			l.unavailable++
			l.mu.Unlock()
			// Nothing was changed: the same record again, a little later
			// (sooner than Retry-After asks, to keep the test short).
			if l.stopped.Load() {
				return
			}
			time.Sleep(300 * time.Millisecond)
		default:
			l.badAnswers = append(l.badAnswers, fmt.Sprintf("%s: status %d: %.300s", name, a.Status, a.Body))
			l.mu.Unlock()
			return
		}
	}
}

// finish waits until the load has created its max records.
func (l *load) finish() { l.wg.Wait() }

// stop stops the load and waits for the requests in flight.
func (l *load) stop() {
	l.stopped.Store(true)
	l.wg.Wait()
}

// ackedCount is how many records were acknowledged so far.
func (l *load) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ackedIDs)
}

// ackedIDsNow returns the ids of the records acknowledged so far.
func (l *load) ackedIDsNow() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ackedIDs...)
}

// figures are one row of docs/RELIABILITY.md.
type figures struct {
	fault        string
	committed    int            // records that exist: acknowledged, or committed as their node died
	acked        int            // of those, acknowledged (201)
	delivered    int            // committed records whose request reached the receiver and whose run succeeded
	lost         int            // committed records without both
	duplicated   int            // requests that arrived again with an Idempotency-Key already seen
	unavailable  int            // 503 unavailable answers the clients got (and retried)
	transport    int            // requests that got no answer (node down or killed)
	extraRetries int            // call_api attempts that failed and were retried (faults on the way to the receiver)
	classes      map[string]int // their error classes
}

func (f figures) String() string {
	return fmt.Sprintf("FIGURES | %s | committed %d (acknowledged %d) | delivered %d | lost %d | duplicated %d | 503 unavailable %d | no answer %d | failed attempts retried %d %v",
		f.fault, f.committed, f.acked, f.delivered, f.lost, f.duplicated, f.unavailable, f.transport, f.extraRetries, f.classes)
}

// settle waits until every record of leads has its run of autoID and every
// such run has finished, and returns them. diagnose, if given, says more
// when they do not settle.
func settle(t *testing.T, api *servertest.Client, autoID string, within time.Duration, diagnose ...func(t *testing.T)) ([]apiRecord, []apiRun) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		records := listAll[apiRecord](t, api, "/api/v1/collections/leads/records")
		runs := listAll[apiRun](t, api, "/api/v1/automations/"+autoID+"/runs")
		pending := 0
		statuses := map[string]int{}
		for _, r := range runs {
			statuses[r.Status]++
			if r.Status != "succeeded" && r.Status != "failed" && r.Status != "cancelled" {
				pending++
			}
		}
		if pending == 0 && len(runs) >= len(records) {
			// The records again: the list above may predate the last
			// runs' update_record.
			return listAll[apiRecord](t, api, "/api/v1/collections/leads/records"), runs
		}
		if time.Now().After(deadline) {
			for _, d := range diagnose {
				d(t)
			}
			t.Fatalf("not settled after %v: %d records, %d runs by status %v", within, len(records), len(runs), statuses)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// account checks the final state against what the load and the receiver
// saw, and returns the figures:
//   - every acknowledged record exists, every record has exactly one run of
//     the push automation, succeeded, with exactly one successful call_api
//     attempt and one update_record attempt (no succeeded step ran twice),
//     and holds the value written back (checkRecordsAndRuns);
//   - no record name exists twice (a write answered 503 and tried again
//     with its Idempotency-Key was created once);
//   - every record's request reached the receiver; a key that arrived more
//     than once is a duplicate, allowed (at-least-once, same
//     Idempotency-Key) and counted.
func account(t *testing.T, fault string, api *servertest.Client, l *load, rc *crmReceiver, records []apiRecord, runs []apiRun) figures {
	t.Helper()
	l.mu.Lock()
	acked := append([]string(nil), l.ackedIDs...)
	f := figures{fault: fault, committed: len(records), acked: len(acked), unavailable: l.unavailable, transport: l.transport, classes: map[string]int{}}
	for _, b := range l.badAnswers {
		t.Errorf("load: %s", b)
	}
	l.mu.Unlock()

	checkRecordsAndRuns(t, records, runs, acked, nil)
	byName := map[string][]string{}
	for _, r := range records {
		name, _ := r.Fields["name"].(string)
		byName[name] = append(byName[name], r.ID)
	}
	for name, ids := range byName {
		if len(ids) > 1 {
			t.Errorf("record %q exists %d times (%v): a write tried again with its Idempotency-Key was created twice", name, len(ids), ids)
		}
	}

	details := fetchRuns(t, []*servertest.Client{api}, runs, 8)
	succeeded := map[string]bool{} // record id -> its run succeeded with one successful attempt
	for _, run := range details {
		if run.Status != "succeeded" || len(run.Steps) != 2 {
			t.Errorf("run %s (record %s): %s with %d steps, want succeeded with 2", run.ID, run.RecordID, run.Status, len(run.Steps))
			continue
		}
		ok := 0
		for _, a := range run.Steps[0].Attempts {
			switch {
			case a.Error == nil && a.Response != nil && a.Response.Status == 200:
				ok++
			case a.Error != nil:
				f.extraRetries++
				f.classes[a.Error.Class]++
			default:
				f.extraRetries++
			}
		}
		if ok != 1 {
			t.Errorf("run %s: %d successful call_api attempts, want exactly 1", run.ID, ok)
		}
		if n := len(run.Steps[1].Attempts); n != 1 || run.Steps[1].Status != "succeeded" {
			t.Errorf("run %s: update_record %s with %d attempts, want succeeded once", run.ID, run.Steps[1].Status, n)
		}
		succeeded[run.RecordID] = ok == 1
	}
	rcv := snapshot(rc)
	for _, e := range rcv.bad {
		t.Errorf("receiver: %s", e)
	}
	for _, r := range records {
		if succeeded[r.ID] && rcv.byRecord[r.ID] > 0 {
			f.delivered++
		} else {
			f.lost++
			t.Errorf("record %s: lost (run succeeded: %v, requests at the receiver: %d)", r.ID, succeeded[r.ID], rcv.byRecord[r.ID])
		}
	}
	var dupKeys []string
	for key, ka := range rcv.byKey {
		if n := len(ka.arrivals); n > 1 {
			f.duplicated += n - 1
			dupKeys = append(dupKeys, fmt.Sprintf("%s×%d", key, n))
		}
		if len(ka.recordIDs) != 1 {
			t.Errorf("Idempotency-Key %s arrived with records %v, want one", key, ka.recordIDs)
		}
	}
	sort.Strings(dupKeys)
	if len(dupKeys) > 0 {
		t.Logf("requests that arrived more than once (same Idempotency-Key): %s", strings.Join(dupKeys[:min(len(dupKeys), 20)], " "))
	}
	t.Log(f)
	return f
}
