package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/servertest"
)

// The cluster test drives the real binary on PostgreSQL: three `serve`
// processes share one fresh database, start together (migrations and the
// first-start bootstrap must be safe together), take record creations
// round-robin, and one of them is killed with SIGKILL in the middle of the
// load. It proves what PRODUCT.md ("Running it") and docs/CLUSTER.md promise:
// every committed record gets its run whichever node took the request and
// whichever node dies, secrets open on every node (one AUTOHOOK_SECRET_KEY), a
// request in flight on the dead node is re-sent at most once with the same
// Idempotency-Key, and a due trigger fires once cluster-wide, on time, while
// every node scans.
//
// A job that the dead node was executing stays `running` in River until the
// rescuer (on River's leader, every 30 s) finds it older than RescueAfter
// (2m50s, fixed: no flag or AUTOHOOK_* variable sets it), so recovering
// those runs takes 3 to 3.5 minutes. The test reads river_job right after
// the kill to list the jobs the dead node held (read-only). By default it
// proves that everything else recovers within clusterRecoverFor and that
// only those runs are left waiting, and reports them; with
// AUTOHOOK_TEST_WAIT_RESCUE=1 it also waits for the rescue (at most
// clusterRescueWait after the kill) and checks the re-sent requests.

const (
	clusterAPIKey       = "ahk_cluster-test-admin-key-0123456789"
	clusterToken        = "rcv-token-1f6c2b9e"               // the secret sent in a header
	clusterSecretRaw    = "cluster-test-secret-key-32-bytes" // 32 bytes: AUTOHOOK_SECRET_KEY, base64
	clusterTotal        = 300                                // records the clients try to create
	clusterClients      = 6                                  // concurrent creators
	clusterKillAt       = 100                                // acknowledged records after which node 3 is killed
	clusterMaxWorkers   = 8                                  // --max-workers of nodes 1 and 2
	clusterNode3Workers = 4                                  // --max-workers of node 3: few jobs in flight at the kill
	clusterReadyWait    = 90 * time.Second
	clusterRecoverFor   = 90 * time.Second
	// River's rescuer: RescueAfter 2m50s + its 30 s interval + a leader
	// change (TTL 15 s) + River's retry backoff and scheduler pass (~6 s).
	clusterRescueWait = 4 * time.Minute
	clusterDueRecords = 20 // records due at the same instant, created across the nodes
	clusterDueAhead   = 3 * time.Second
	clusterDueWithin  = 5 * time.Second // PRODUCT.md: fires within 5 s after the due time
)

func TestClusterOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the real binary and runs three nodes on PostgreSQL; skipped with -short")
	}
	began := time.Now()
	dbURL := pgtest.NewEmptyDatabase(t) // the nodes migrate it together
	tmp := t.TempDir()
	bin := autohookBinary(t)
	t.Logf("built %s in %v", bin, time.Since(began).Round(time.Millisecond))

	rc := newCRMReceiver(t, "Bearer "+clusterToken)

	// 1. Three nodes on one fresh database, started together.
	c := &cluster{t: t, bin: bin, tmp: tmp, dbURL: dbURL}
	startAt := time.Now()
	procs := []*proc{
		c.start("node1", filepath.Join(tmp, "data1"), clusterMaxWorkers),
		c.start("node2", filepath.Join(tmp, "data2"), clusterMaxWorkers),
		c.start("node3", filepath.Join(tmp, "data3"), clusterNode3Workers),
	}
	var failedStart []int
	for i, p := range procs {
		if err := p.tryReady(clusterReadyWait); err != nil {
			// Known failure (see the report): the first-start bootstrap is
			// check-then-insert, so nodes starting together on an empty
			// database race, and the losers exit on the unique api key
			// hash. The test reports it and starts them again, so that the
			// rest of the cluster behaviour is still checked.
			t.Errorf("bug: %v — a node started together with others on an empty database must find the bootstrap done (docs/CLUSTER.md), not exit", err)
			failedStart = append(failedStart, i)
		}
	}
	t.Logf("%d of 3 nodes ready %v after starting them together", 3-len(failedStart), time.Since(startAt).Round(time.Millisecond))
	for _, i := range failedStart {
		name := fmt.Sprintf("node%d-again", i+1)
		workers := clusterMaxWorkers
		if i == 2 {
			workers = clusterNode3Workers
		}
		procs[i] = c.start(name, filepath.Join(tmp, fmt.Sprintf("data%d", i+1)), workers)
		procs[i].waitReady(t, clusterReadyWait)
		t.Logf("%s ready (started again after the failed start)", name)
	}
	n1, n2, n3 := newClusterAPI(procs[0].base), newClusterAPI(procs[1].base), newClusterAPI(procs[2].base)

	// Exactly one organisation, seen the same from every node; exactly one
	// node printed the first-start lines.
	bootstrapped := 0
	for i, api := range []*servertest.Client{n1, n2, n3} {
		orgs := listAll[struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}](t, api, "/api/v1/organisations")
		if len(orgs) != 1 {
			t.Errorf("node%d lists %d organisations after three nodes started together, want exactly 1: %+v", i+1, len(orgs), orgs)
		}
		if out, _ := os.ReadFile(procs[i].outPath); bytes.Contains(out, []byte("First start")) {
			bootstrapped++
		}
	}
	if bootstrapped != 1 {
		t.Errorf("%d nodes reported a first start (created the organisation), want exactly 1", bootstrapped)
	}

	// 2. Set-up through node 1.
	n1.Must(t, http.StatusCreated, "POST", "/api/v1/collections", map[string]any{
		"key": "leads", "name": "Leads",
		"fields": []map[string]any{
			{"key": "name", "type": "text"},
			{"key": "externalId", "type": "text"},
			{"key": "dueDate", "type": "datetime"},
		},
		"stages": []string{"New"},
	}, nil)
	n1.Must(t, http.StatusNoContent, "PUT", "/api/v1/secrets/RCV_TOKEN", map[string]any{"value": clusterToken}, nil)
	pushAutoID := savePushLeads(t, n1, rc.URL+"/leads", []map[string]any{{"name": "Authorization", "value": "Bearer {secrets.RCV_TOKEN}"}})
	// Every node sees it at once (one database).
	for _, api := range []*servertest.Client{n2, n3} {
		api.Must(t, http.StatusOK, "GET", "/api/v1/automations/"+pushAutoID, nil, nil)
	}

	// 3. Load round-robin over the three nodes; node 3 is killed with
	// SIGKILL after clusterKillAt acknowledged creations, and the load goes
	// on against nodes 1 and 2.
	apis := []*servertest.Client{n1, n2, n3}
	var (
		next, acked    atomic.Int64
		node3Dead      atomic.Bool
		killOnce       sync.Once
		killedAt       time.Time
		killErr        error
		node3Metrics   map[string]float64
		inFlightAtKill int64
		mu             sync.Mutex
		committed      []string        // ids of records whose POST answered 201
		committedBy    = map[int]int{} // node index -> records acknowledged
		lostToKill     int             // POSTs to node 3 that failed with it
		loadErrs       []string
		wg             sync.WaitGroup
		loadStart      = time.Now()
		rcvBeforeKill  int
	)
	kill := func() {
		killOnce.Do(func() {
			node3Metrics = scrapeClusterMetrics(n3)
			node3Dead.Store(true)
			inFlightAtKill = rc.inFlight.Load()
			rcvBeforeKill = len(rc.byPath("/leads"))
			killedAt = time.Now()
			killErr = procs[2].cmd.Process.Kill()
		})
	}
	for range clusterClients {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > clusterTotal {
					return
				}
				target := int(i % 3)
				if target == 2 && node3Dead.Load() {
					target = int(i/3) % 2
				}
				a, err := apis[target].Send(context.Background(), "POST", "/api/v1/collections/leads/records",
					map[string]any{"fields": map[string]any{"name": fmt.Sprintf("lead-%03d", i)}})
				if err != nil {
					mu.Lock()
					if target == 2 && node3Dead.Load() {
						lostToKill++ // node 3 died under it: the record may or may not exist
					} else {
						loadErrs = append(loadErrs, fmt.Sprintf("create lead-%03d on node%d: %v", i, target+1, err))
					}
					mu.Unlock()
					continue
				}
				if a.Status != http.StatusCreated {
					mu.Lock()
					loadErrs = append(loadErrs, fmt.Sprintf("create lead-%03d on node%d: status %d: %s", i, target+1, a.Status, a.Body))
					mu.Unlock()
					continue
				}
				var rec struct{ ID string }
				if err := json.Unmarshal(a.Body, &rec); err != nil || rec.ID == "" {
					mu.Lock()
					loadErrs = append(loadErrs, fmt.Sprintf("create lead-%03d on node%d: bad answer %q: %v", i, target+1, a.Body, err))
					mu.Unlock()
					continue
				}
				mu.Lock()
				committed = append(committed, rec.ID)
				committedBy[target]++
				if acked.Add(1) == clusterKillAt {
					mu.Unlock()
					kill()
					continue
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	loadTook := time.Since(loadStart)
	for _, e := range loadErrs {
		t.Errorf("load: %s", e)
	}
	if killedAt.IsZero() {
		t.Fatalf("only %d records were acknowledged, never %d: node 3 was not killed", acked.Load(), clusterKillAt)
	}
	if killErr != nil {
		t.Fatalf("kill node 3: %v", killErr)
	}
	if err := procs[2].wait(10 * time.Second); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("node 3: exit %v, want killed by SIGKILL", err)
	}
	reapedAt := time.Now()
	t.Logf("load: %d creations tried in %v; node 3 killed %v into the load (after %d acknowledged); %d acknowledged (node1 %d, node2 %d, node3 %d), %d lost with node 3; receiver had %d requests, %d in flight at the kill; node 3 had made %v ok attempts",
		clusterTotal, loadTook.Round(time.Millisecond), killedAt.Sub(loadStart).Round(time.Millisecond), clusterKillAt,
		len(committed), committedBy[0], committedBy[1], committedBy[2], lostToKill, rcvBeforeKill, inFlightAtKill,
		node3Metrics[`autohook_attempts_total{class="ok"}`])
	if committedBy[2] == 0 {
		t.Errorf("node 3 acknowledged no record before it was killed: the load did not reach it")
	}
	if node3Metrics[`autohook_attempts_total{class="ok"}`] == 0 {
		t.Logf("node 3 had made no successful Call API attempt before the kill (its workers may have lost every race)")
	}

	// Jobs node 3 held when it died: River jobs still `running` that were
	// attempted before the kill. Nodes 1 and 2 finish theirs in
	// milliseconds, so after a short pause whatever is left belongs to the
	// dead node and waits for River's rescuer (RescueAfter 2m50s, fixed).
	// Some of them may be runs that had finished: River records a job's
	// completion a little after the worker returns.
	time.Sleep(time.Until(killedAt.Add(3 * time.Second)))
	node3Client := clusterRiverClient(procs[2])
	if node3Client == "" {
		t.Logf("node 3's River client id is not in its log: counting every job attempted before the kill and still running as held by it")
	}
	orphans := clusterOrphans(t, dbURL, killedAt, node3Client)
	orphanRuns := map[string]bool{}
	for _, o := range orphans {
		// A run job names its runs; the node's other jobs (the pruner, an
		// alert's delivery) name none, and their rescue is River's too.
		if len(o.RunIDs) == 0 && (o.Kind == "autohook.run" || o.Kind == "autohook.runs") {
			t.Errorf("job %d (%s) held by the dead node names no run", o.ID, o.Kind)
		}
		for _, id := range o.RunIDs {
			orphanRuns[id] = true
		}
	}
	waitRescue := os.Getenv("AUTOHOOK_TEST_WAIT_RESCUE") != "" && len(orphans) > 0
	switch {
	case len(orphans) == 0:
		t.Logf("node 3 left no job running in River: no rescue needed")
	case waitRescue:
		t.Logf("node 3 left %d jobs (%d runs) running in River (River client %v); AUTOHOOK_TEST_WAIT_RESCUE is set: waiting for River's rescuer, at most %v after the kill",
			len(orphans), len(orphanRuns), orphanClients(orphans), clusterRescueWait)
	default:
		t.Logf("node 3 left %d jobs (%d runs) running in River (River client %v): their runs wait for River's rescuer (RescueAfter 2m50s, no flag or variable shortens it); the test checks everything else and reports them (AUTOHOOK_TEST_WAIT_RESCUE=1 waits for the rescue, ~3.5 min)",
			len(orphans), len(orphanRuns), orphanClients(orphans))
	}

	// Node 3 comes back on the same database (its own data dir). On
	// PostgreSQL a restarted node is a new River client: it does not take
	// over the jobs its previous process held (ResumeOrphanedJobs is for
	// SQLite only); the rescuer does. Observed below.
	restartAt := time.Now()
	p3b := c.start("node3b", filepath.Join(tmp, "data3"), clusterNode3Workers)
	p3b.waitReady(t, clusterReadyWait)
	n3b := newClusterAPI(p3b.base)
	t.Logf("node 3 restarted: ready in %v", time.Since(restartAt).Round(time.Millisecond))
	if out, _ := os.ReadFile(p3b.outPath); bytes.Contains(out, []byte("First start")) {
		t.Errorf("the restarted node 3 reported a first start on a database that has an organisation")
	}

	// 4. Recovery: every committed record holds the written-back value and
	// every run of the push automation succeeded — except, unless the test
	// waits for the rescue, the runs whose jobs the dead node still holds
	// (pending: their records).
	settle := func(by time.Time) (records []apiRecord, runs []apiRun, pending map[string]bool) {
		lastReport := time.Now()
		for {
			records = listAll[apiRecord](t, n1, "/api/v1/collections/leads/records")
			runs = listAll[apiRun](t, n2, "/api/v1/automations/"+pushAutoID+"/runs")
			byID := make(map[string]apiRecord, len(records))
			for _, r := range records {
				byID[r.ID] = r
			}
			pending = map[string]bool{}
			var stray []string // what is not done and no orphaned job explains
			for _, r := range runs {
				if r.Status == "succeeded" {
					continue
				}
				if orphanRuns[r.ID] && !waitRescue {
					pending[r.RecordID] = true
					continue
				}
				stray = append(stray, fmt.Sprintf("run %s (record %s) %s", r.ID, r.RecordID, r.Status))
			}
			for _, id := range committed {
				if r, ok := byID[id]; (!ok || r.Fields["externalId"] == nil) && !pending[id] {
					stray = append(stray, fmt.Sprintf("record %s without externalId (exists: %t)", id, ok))
				}
			}
			if len(stray) == 0 && len(runs) >= len(records) {
				return records, runs, pending
			}
			if time.Now().After(by) {
				statuses := map[string]int{}
				for _, r := range runs {
					statuses[r.Status]++
				}
				t.Fatalf("not recovered %v after the kill: %d records, %d runs by status %v; %d jobs still held by the dead node; not done and not held by it: %d: %v",
					time.Since(killedAt).Round(time.Second), len(records), len(runs), statuses, len(clusterOrphans(t, dbURL, killedAt, node3Client)), len(stray), stray[:min(len(stray), 10)])
			}
			if time.Since(lastReport) > 30*time.Second {
				lastReport = time.Now()
				t.Logf("%v after the kill: %d runs or records not done", time.Since(killedAt).Round(time.Second), len(stray))
			}
			time.Sleep(250 * time.Millisecond)
		}
	}

	recoverBy := time.Now().Add(clusterRecoverFor)
	if waitRescue {
		recoverBy = killedAt.Add(clusterRescueWait)
	}
	records, runs, pending := settle(recoverBy)
	recoveredAfter := time.Since(killedAt)
	finishedOrphans := 0
	for _, r := range runs {
		if orphanRuns[r.ID] && !pending[r.RecordID] {
			finishedOrphans++
		}
	}
	t.Logf("recovered %v after the kill: %d records (%d committed, %d committed without acknowledgement), %d runs; of the %d runs in the %d jobs the dead node held, %d are succeeded and %d still wait for the rescuer",
		recoveredAfter.Round(time.Millisecond), len(records), len(committed), len(records)-len(committed), len(runs),
		len(orphanRuns), len(orphans), finishedOrphans, len(pending))

	// 5. A record_due automation, saved through node 2, and records due
	// ~3 s ahead created through every live node: each fires once
	// cluster-wide while nodes 1, 2 and the restarted 3 all scan.
	var dueAuto struct{ ID string }
	n2.Must(t, http.StatusCreated, "POST", "/api/v1/automations", map[string]any{
		"name": "Due ping", "collection": "leads",
		"trigger": map[string]any{"type": "record_due", "field": "dueDate"},
		"steps": []map[string]any{{
			"id": "ping", "type": "call_api", "method": "POST", "url": rc.URL + "/due",
			"headers": []map[string]any{{"name": "Authorization", "value": "Bearer {secrets.RCV_TOKEN}"}},
			"body": map[string]any{"contentType": "application/json", "fields": []map[string]any{
				{"key": "recordId", "type": "string", "value": "{record.id}"},
			}},
		}},
	}, &dueAuto)
	if dueAuto.ID == "" {
		t.Fatal("the record_due automation was saved without an id")
	}
	dueAt := time.Now().Add(clusterDueAhead).UTC().Truncate(time.Millisecond)
	dueAPIs := []*servertest.Client{n1, n2, n3b}
	var dueIDs []string
	for i := range clusterDueRecords {
		var rec struct{ ID string }
		dueAPIs[i%3].Must(t, http.StatusCreated, "POST", "/api/v1/collections/leads/records", map[string]any{
			"fields": map[string]any{"name": fmt.Sprintf("due-%02d", i), "dueDate": dueAt.Format(time.RFC3339Nano)},
		}, &rec)
		dueIDs = append(dueIDs, rec.ID)
	}
	committed = append(committed, dueIDs...)
	if left := time.Until(dueAt); left < 500*time.Millisecond {
		t.Fatalf("creating %d due records left %v before their due time; the machine is too slow for this check", clusterDueRecords, left)
	}
	// Wait for every due request, then a little longer for duplicates
	// (every node scans every second).
	dueDeadline := dueAt.Add(clusterDueWithin + 5*time.Second)
	for time.Now().Before(dueDeadline) {
		if len(rc.byPath("/due")) >= clusterDueRecords {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Until(dueAt.Add(clusterDueWithin + 3*time.Second)))
	dueHits := rc.byPath("/due")
	hitsByRecord := map[string][]arrival{}
	for _, h := range dueHits {
		hitsByRecord[h.recordID] = append(hitsByRecord[h.recordID], h)
	}
	var maxDelay, minDelay time.Duration
	minDelay = time.Hour
	for _, id := range dueIDs {
		hs := hitsByRecord[id]
		if len(hs) != 1 {
			t.Errorf("due record %s: %d requests at the receiver, want exactly 1 cluster-wide", id, len(hs))
		}
		if len(hs) == 0 {
			continue
		}
		d := hs[0].at.Sub(dueAt)
		maxDelay, minDelay = max(maxDelay, d), min(minDelay, d)
		if d < 0 {
			t.Errorf("due record %s: its request arrived %v before the due time", id, -d)
		}
		if d > clusterDueWithin {
			t.Errorf("due record %s: its request arrived %v after the due time, want within %v", id, d, clusterDueWithin)
		}
	}
	if len(dueHits) != clusterDueRecords {
		t.Errorf("the receiver got %d due requests for %d due records", len(dueHits), clusterDueRecords)
	}
	// History: one run per due record, all succeeded (they may still be
	// finishing their write).
	var dueRuns []apiRun
	for deadline := time.Now().Add(10 * time.Second); ; {
		dueRuns = listAll[apiRun](t, n1, "/api/v1/automations/"+dueAuto.ID+"/runs")
		done := len(dueRuns) >= clusterDueRecords
		for _, r := range dueRuns {
			done = done && r.Status == "succeeded"
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	dueRunsByRecord := map[string]int{}
	for _, r := range dueRuns {
		dueRunsByRecord[r.RecordID]++
		if r.Status != "succeeded" {
			t.Errorf("due run %s (record %s): status %s, want succeeded", r.ID, r.RecordID, r.Status)
		}
	}
	for _, id := range dueIDs {
		if n := dueRunsByRecord[id]; n != 1 {
			t.Errorf("due record %s: %d runs in history, want exactly 1", id, n)
		}
	}
	if len(dueRuns) != clusterDueRecords {
		t.Errorf("the record_due automation has %d runs, want %d (one per due record)", len(dueRuns), clusterDueRecords)
	}
	t.Logf("due trigger: %d records due at the same instant, %d requests, %d runs; delay from the due time to the request %v .. %v",
		clusterDueRecords, len(dueHits), len(dueRuns), minDelay.Round(time.Millisecond), maxDelay.Round(time.Millisecond))

	// Did the restarted node 3 take over its predecessor's jobs?
	if len(orphans) > 0 {
		still := clusterOrphans(t, dbURL, killedAt, node3Client)
		if len(still) > 0 {
			t.Logf("%v after the restart of node 3, %d of node 3's %d orphaned jobs are still running in River: the restarted node (a new River client) does not take them over; only River's rescuer does",
				time.Since(restartAt).Round(time.Millisecond), len(still), len(orphans))
		} else {
			t.Logf("%v after the restart of node 3 (%v after the kill), none of node 3's %d orphaned jobs is still running: River's rescuer took them over",
				time.Since(restartAt).Round(time.Millisecond), time.Since(killedAt).Round(time.Millisecond), len(orphans))
		}
	}

	// Everything again, with the due records (their record_added runs).
	records, runs, pending = settle(time.Now().Add(30 * time.Second))

	// Proofs on the final state.
	checkRecordsAndRuns(t, records, runs, committed, pending)

	// Every committed record's request reached the receiver, with the
	// secret opened (whichever node sent it).
	leadHits := rc.byPath("/leads")
	byRecord := map[string]int{}
	byKey := map[string][]arrival{}
	for _, h := range leadHits {
		byRecord[h.recordID]++
		byKey[h.key] = append(byKey[h.key], h)
	}
	for _, id := range committed {
		if byRecord[id] == 0 && !pending[id] {
			t.Errorf("committed record %s: its request never reached the receiver", id)
		}
	}
	for _, e := range rc.problems() {
		t.Errorf("receiver: %s", e)
	}

	// History: each push run has exactly one successful call_api attempt,
	// and its Idempotency-Key is the one the receiver saw.
	var done []apiRun
	for _, r := range runs {
		if !pending[r.RecordID] {
			done = append(done, r)
		}
	}
	details := fetchRuns(t, []*servertest.Client{n1, n2, n3b}, done, 6)
	runKeys := map[string]string{} // Idempotency-Key -> record id
	for _, run := range details {
		if run.Status != "succeeded" || len(run.Steps) != 2 {
			t.Errorf("run %s: status %s with %d steps, want succeeded with 2", run.ID, run.Status, len(run.Steps))
			continue
		}
		send, save := run.Steps[0], run.Steps[1]
		ok := 0
		for _, a := range send.Attempts {
			if a.Error == nil && a.Response != nil && a.Response.Status == 200 {
				ok++
				key := headerValue(a.Request, "Idempotency-Key")
				if key == "" {
					t.Errorf("run %s: the successful attempt has no Idempotency-Key in history", run.ID)
					continue
				}
				runKeys[key] = run.RecordID
				if auth := headerValue(a.Request, "Authorization"); strings.Contains(auth, clusterToken) {
					t.Errorf("run %s: history shows the secret in the Authorization header: %q", run.ID, auth)
				}
			}
		}
		if ok != 1 {
			t.Errorf("run %s: %d successful call_api attempts in history, want exactly 1", run.ID, ok)
		}
		if save.Status != "succeeded" || len(save.Attempts) != 1 {
			t.Errorf("run %s: update_record %s with %d attempts, want succeeded with exactly 1", run.ID, save.Status, len(save.Attempts))
		}
	}
	twice, sentPending := 0, 0
	for key, hs := range byKey {
		recID, ok := runKeys[key]
		if !ok {
			if len(hs) == 1 && pending[hs[0].recordID] && hs[0].at.Before(reapedAt) {
				sentPending++ // sent by node 3 before it died; the rescue re-sends it
				continue
			}
			t.Errorf("the receiver got Idempotency-Key %q (%d times, record %s), which is no run's successful attempt", key, len(hs), hs[0].recordID)
			continue
		}
		for _, h := range hs {
			if h.recordID != recID {
				t.Errorf("Idempotency-Key %q arrived with record %s, want %s", key, h.recordID, recID)
			}
		}
		switch len(hs) {
		case 1:
		case 2:
			twice++
			if !hs[0].at.Before(reapedAt) || !hs[1].at.After(killedAt) {
				t.Errorf("Idempotency-Key %q arrived twice, %v and %v after the load began; a re-send must straddle the kill at %v",
					key, hs[0].at.Sub(loadStart), hs[1].at.Sub(loadStart), killedAt.Sub(loadStart))
			}
		default:
			t.Errorf("Idempotency-Key %q arrived %d times, want at most 2", key, len(hs))
		}
	}
	for key, recID := range runKeys {
		if len(byKey[key]) == 0 {
			t.Errorf("Idempotency-Key %q (record %s, a succeeded run) never reached the receiver", key, recID)
		}
	}
	if sentPending > 0 {
		t.Logf("%d requests of runs that wait for the rescuer reached the receiver before node 3 died (their results were lost with it; the rescue re-sends them with the same Idempotency-Key)", sentPending)
	}
	if twice > len(orphanRuns) {
		t.Errorf("%d Idempotency-Keys arrived twice, more than the %d runs the dead node held", twice, len(orphanRuns))
	}

	// Work was shared: the surviving nodes both delivered requests.
	for i, api := range []*servertest.Client{n1, n2, n3b} {
		m := scrapeClusterMetrics(api)
		t.Logf("node %s: %v successful Call API attempts, %v runs succeeded", []string{"1", "2", "3 (restarted)"}[i],
			m[`autohook_attempts_total{class="ok"}`], m[`autohook_runs_finished_total{status="succeeded"}`])
		if i < 2 && m[`autohook_attempts_total{class="ok"}`] == 0 {
			t.Errorf("node %d made no successful Call API attempt: work was not shared", i+1)
		}
	}

	// The live nodes stop cleanly.
	for _, p := range []*proc{procs[0], procs[1], p3b} {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("%s: SIGTERM: %v", p.name, err)
		}
	}
	for _, p := range []*proc{procs[0], procs[1], p3b} {
		if err := p.wait(30 * time.Second); err != nil {
			t.Errorf("%s after SIGTERM: %v, want a clean exit", p.name, err)
		}
	}
	t.Logf("summary: committed %d (%d acknowledged in the load + %d due records), lost with node 3 %d; jobs held by node 3 at its death %d (runs waiting for the rescuer at the end: %d); keys delivered twice %d; recovered %v after the kill; due delay %v .. %v; whole test %v",
		len(committed), len(committed)-len(dueIDs), len(dueIDs), lostToKill, len(orphans), len(pending), twice,
		recoveredAfter.Round(time.Millisecond), minDelay.Round(time.Millisecond), maxDelay.Round(time.Millisecond),
		time.Since(began).Round(time.Millisecond))
}

// cluster starts nodes of one test.
type cluster struct {
	t     *testing.T
	bin   string
	tmp   string
	dbURL string
}

// start starts a node without waiting for it: nodes started one after the
// other this way run their start-up (migrations, bootstrap) together.
func (c *cluster) start(name, dataDir string, workers int) *proc {
	c.t.Helper()
	env := serveEnv(
		"AUTOHOOK_DATABASE_URL="+c.dbURL,
		"AUTOHOOK_BOOTSTRAP_API_KEY="+clusterAPIKey,
		"AUTOHOOK_ALLOW_PRIVATE_NETWORKS=true",
		"AUTOHOOK_SECRET_KEY="+base64.StdEncoding.EncodeToString([]byte(clusterSecretRaw)),
	)
	return startProc(c.t, c.bin, c.tmp, name, env, "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0",
		"--max-workers", strconv.Itoa(workers), "--rate-limit", "0", "--db-conns", "12")
}

// newClusterAPI calls one node's API with the bootstrap key.
func newClusterAPI(base string) *servertest.Client {
	return newAPI(base, clusterAPIKey, clusterClients*2)
}

// clusterOrphan is a River job left running by a node that died.
type clusterOrphan struct {
	ID          int64
	Kind        string
	RunIDs      []string // its runs: one (autohook.run) or a batch (autohook.runs)
	AttemptedAt time.Time
	AttemptedBy []string
}

var clusterClientLine = regexp.MustCompile(`msg="River client started".* client_id=(\S+)`)

// clusterRiverClient reads a node's River client id from its log.
func clusterRiverClient(p *proc) string {
	data, _ := os.ReadFile(p.errPath)
	if m := clusterClientLine.FindSubmatch(data); m != nil {
		return string(m[1])
	}
	return ""
}

// clusterOrphans lists the River jobs still running that were attempted
// before the kill, last by client (any client if empty): read-only, for the
// report and the bound.
func clusterOrphans(t *testing.T, dbURL string, before time.Time, client string) []clusterOrphan {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("inspect river_job: %v", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT id, kind, args, attempted_at, attempted_by FROM river_job
		WHERE state = 'running' AND attempted_at < $1 AND ($2 = '' OR attempted_by[array_length(attempted_by, 1)] = $2) ORDER BY id`, before, client)
	if err != nil {
		t.Fatalf("inspect river_job: %v", err)
	}
	var out []clusterOrphan
	for rows.Next() {
		var o clusterOrphan
		var args []byte
		if err := rows.Scan(&o.ID, &o.Kind, &args, &o.AttemptedAt, &o.AttemptedBy); err != nil {
			t.Fatalf("inspect river_job: %v", err)
		}
		type runArgs struct {
			Run string `json:"run"`
		}
		var a struct {
			runArgs
			Runs []runArgs `json:"runs"`
		}
		if err := json.Unmarshal(args, &a); err != nil {
			t.Fatalf("river_job %d: args %s: %v", o.ID, args, err)
		}
		for _, r := range append([]runArgs{a.runArgs}, a.Runs...) {
			if r.Run != "" {
				o.RunIDs = append(o.RunIDs, r.Run)
			}
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("inspect river_job: %v", err)
	}
	return out
}

// orphanClients lists the River clients that held the orphans last.
func orphanClients(orphans []clusterOrphan) []string {
	var out []string
	for _, o := range orphans {
		if n := len(o.AttemptedBy); n > 0 && !slices.Contains(out, o.AttemptedBy[n-1]) {
			out = append(out, o.AttemptedBy[n-1])
		}
	}
	return out
}

// scrapeClusterMetrics reads a node's /metrics into name{labels} -> value;
// nil when the node does not answer.
func scrapeClusterMetrics(a *servertest.Client) map[string]float64 {
	m, err := a.Send(context.Background(), "GET", "/metrics", nil)
	if err != nil || m.Status != http.StatusOK {
		return nil
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(m.Body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
