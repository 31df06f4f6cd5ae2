package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/servertest"
)

// The crash test drives the real binary: it is built once, started on a
// temporary data dir, loaded with record creations whose automation calls a
// local receiver, killed with SIGKILL in the middle, and started again on
// the same data dir. It proves the durability promise of PRODUCT.md: a
// committed change always gets its run, every run finishes, a step whose
// success was committed never runs again, and a request in flight at the
// crash is re-sent at most once, with the same Idempotency-Key.

const (
	crashAPIKey     = "ahk_crash-test-admin-key-0123456789"
	crashTotal      = 400 // records the clients try to create
	crashClients    = 8   // concurrent creators
	crashKillAt     = 150 // acknowledged records after which the node is killed
	crashMaxWorkers = 16  // --max-workers: bounds the runs in flight at the kill
	crashReadyWait  = 60 * time.Second
	crashRecoverFor = 60 * time.Second
)

func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and crashes the real binary; skipped with -short")
	}
	began := time.Now()
	tmp := t.TempDir()
	bin := autohookBinary(t)
	t.Logf("built %s in %v", bin, time.Since(began).Round(time.Millisecond))

	rc := newCRMReceiver(t, "")
	dataDir := filepath.Join(tmp, "data")

	// First node.
	p1 := startServe(t, bin, tmp, dataDir, "serve1")
	api := newAPI(p1.base, crashAPIKey, crashClients*2)

	// A second process on the same data dir is refused at once.
	checkSecondProcessRefused(t, bin, tmp, dataDir)

	api.Must(t, http.StatusCreated, "POST", "/api/v1/collections", map[string]any{
		"key": "leads", "name": "Leads",
		"fields": []map[string]any{
			{"key": "name", "type": "text"},
			{"key": "externalId", "type": "text"},
		},
		"stages": []string{"New"},
	}, nil)
	autoID := savePushLeads(t, api, rc.URL+"/leads", nil)

	// Load, and kill the node with SIGKILL while records are still being
	// created and runs are in flight.
	var (
		next, acked   atomic.Int64
		killOnce      sync.Once
		killedAt      time.Time
		killErr       error
		inFlightAtRcv int64
		mu            sync.Mutex
		committed     []string // ids of records whose POST answered 201
		loadErrs      []string
		wg            sync.WaitGroup
	)
	kill := func() {
		killOnce.Do(func() {
			inFlightAtRcv = rc.inFlight.Load()
			killedAt = time.Now()
			killErr = p1.cmd.Process.Kill()
		})
	}
	loadStart := time.Now()
	for range crashClients {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > crashTotal {
					return
				}
				a, err := api.Send(context.Background(), "POST", "/api/v1/collections/leads/records",
					map[string]any{"fields": map[string]any{"name": fmt.Sprintf("lead-%03d", i)}})
				if err != nil {
					return // the node died: this record may or may not exist
				}
				if a.Status != http.StatusCreated {
					mu.Lock()
					loadErrs = append(loadErrs, fmt.Sprintf("create lead-%03d: status %d: %s", i, a.Status, a.Body))
					mu.Unlock()
					return
				}
				var rec struct{ ID string }
				if err := json.Unmarshal(a.Body, &rec); err != nil || rec.ID == "" {
					mu.Lock()
					loadErrs = append(loadErrs, fmt.Sprintf("create lead-%03d: bad answer %q: %v", i, a.Body, err))
					mu.Unlock()
					return
				}
				mu.Lock()
				committed = append(committed, rec.ID)
				mu.Unlock()
				if acked.Add(1) == crashKillAt {
					kill()
				}
			}
		})
	}
	wg.Wait()
	for _, e := range loadErrs {
		t.Errorf("load: %s", e)
	}
	if killedAt.IsZero() {
		t.Fatalf("only %d records were acknowledged, never %d: the node was not killed", acked.Load(), crashKillAt)
	}
	if killErr != nil {
		t.Fatalf("kill: %v", killErr)
	}
	if err := p1.wait(10 * time.Second); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("first node: exit %v, want killed by SIGKILL", err)
	}
	reapedAt := time.Now()
	rcvBeforeKill := rc.Count()
	t.Logf("killed after %v: %d records committed (acknowledged), %d requests received so far, %d in flight at the receiver",
		killedAt.Sub(loadStart).Round(time.Millisecond), len(committed), rcvBeforeKill, inFlightAtRcv)
	if len(committed) < crashKillAt || len(committed) >= crashTotal {
		t.Fatalf("%d records committed, want at least %d and fewer than %d (the kill must land during the load)", len(committed), crashKillAt, crashTotal)
	}

	// Restart on the same data dir: the kernel released the lock.
	restartAt := time.Now()
	p2 := startServe(t, bin, tmp, dataDir, "serve2")
	readyIn := time.Since(restartAt)
	api = newAPI(p2.base, crashAPIKey, crashClients*2)

	// Recovery: every committed record holds its externalId and every run
	// of the automation succeeded.
	var records []apiRecord
	var runs []apiRun
	deadline := time.Now().Add(crashRecoverFor)
	for {
		records = listAll[apiRecord](t, api, "/api/v1/collections/leads/records")
		runs = listAll[apiRun](t, api, "/api/v1/automations/"+autoID+"/runs")
		byID := make(map[string]apiRecord, len(records))
		for _, r := range records {
			byID[r.ID] = r
		}
		missing, unfinished := 0, 0
		for _, id := range committed {
			if r, ok := byID[id]; !ok || r.Fields["externalId"] == nil {
				missing++
			}
		}
		for _, r := range runs {
			if r.Status != "succeeded" {
				unfinished++
			}
		}
		if missing == 0 && unfinished == 0 {
			break
		}
		if time.Now().After(deadline) {
			statuses := map[string]int{}
			for _, r := range runs {
				statuses[r.Status]++
			}
			t.Fatalf("not recovered after %v: %d of %d committed records lack externalId; %d records; runs by status %v",
				crashRecoverFor, missing, len(committed), len(records), statuses)
		}
		time.Sleep(100 * time.Millisecond)
	}
	recoveredIn := time.Since(restartAt)
	t.Logf("restarted: ready in %v, all runs succeeded %v after the restart (%v after the kill); %d records (%d not acknowledged but committed), %d runs",
		readyIn.Round(time.Millisecond), recoveredIn.Round(time.Millisecond), time.Since(killedAt).Round(time.Millisecond),
		len(records), len(records)-len(committed), len(runs))

	// Proofs. Every committed record exists and got exactly one run; so did
	// every record that exists (a committed change always gets its runs);
	// (d) each was created (version 1), then updated once by the
	// update_record step.
	checkRecordsAndRuns(t, records, runs, committed, nil)

	// Every committed record's request reached the receiver.
	rcv := snapshot(rc)
	for _, id := range committed {
		if rcv.byRecord[id] == 0 {
			t.Errorf("committed record %s: its request never reached the receiver", id)
		}
	}
	for _, e := range rcv.bad {
		t.Errorf("receiver: %s", e)
	}

	// Each run's history: exactly one successful call_api attempt carrying
	// the run's Idempotency-Key, and one update_record attempt.
	details := fetchRuns(t, []*servertest.Client{api}, runs, 4)
	runKeys := map[string]string{} // Idempotency-Key -> record id
	extraAttempts := 0
	for _, run := range details {
		key := run.ID + ".send"
		runKeys[key] = run.RecordID
		if run.Status != "succeeded" || len(run.Steps) != 2 {
			t.Errorf("run %s: status %s with %d steps, want succeeded with 2", run.ID, run.Status, len(run.Steps))
			continue
		}
		send, save := run.Steps[0], run.Steps[1]
		if send.ID != "send" || send.Status != "succeeded" || save.ID != "save" || save.Status != "succeeded" {
			t.Errorf("run %s: steps %s=%s, %s=%s, want send and save succeeded", run.ID, send.ID, send.Status, save.ID, save.Status)
			continue
		}
		ok := 0
		for _, a := range send.Attempts {
			if a.Error == nil && a.Response != nil && a.Response.Status == 200 {
				ok++
				if got := headerValue(a.Request, "Idempotency-Key"); got != key {
					t.Errorf("run %s: the successful attempt sent Idempotency-Key %q, want %q", run.ID, got, key)
				}
			}
		}
		extraAttempts += len(send.Attempts) - ok
		// (a)
		if ok != 1 {
			t.Errorf("run %s: %d successful call_api attempts in history, want exactly 1: %+v", run.ID, ok, send.Attempts)
		}
		// (d)
		if len(save.Attempts) != 1 || save.Attempts[0].Error != nil {
			t.Errorf("run %s: update_record has %d attempts (%+v), want exactly 1 that succeeded", run.ID, len(save.Attempts), save.Attempts)
		}
	}
	if extraAttempts > 0 {
		t.Logf("%d call_api attempts in history that did not succeed (the receiver always answers 200)", extraAttempts)
	}

	// (b), (c): at-least-once, but a request is re-sent only when it was in
	// flight at the kill: sent before the kill, again after the restart.
	twice := 0
	for key, st := range rcv.byKey {
		recID, ok := runKeys[key]
		if !ok {
			t.Errorf("the receiver got Idempotency-Key %q, which belongs to no run", key)
			continue
		}
		if len(st.recordIDs) != 1 || st.recordIDs[0] != recID {
			t.Errorf("Idempotency-Key %q arrived with record ids %v, want only %s", key, st.recordIDs, recID)
		}
		switch n := len(st.arrivals); {
		case n > 2:
			t.Errorf("Idempotency-Key %q arrived %d times, want at most 2", key, n)
		case n == 2:
			twice++
			if !st.arrivals[0].Before(reapedAt) || st.arrivals[1].Before(restartAt) {
				t.Errorf("Idempotency-Key %q arrived twice, at %v and %v after the load began; a re-send must straddle the crash (killed at %v, restarted at %v)",
					key, st.arrivals[0].Sub(loadStart), st.arrivals[1].Sub(loadStart), killedAt.Sub(loadStart), restartAt.Sub(loadStart))
			}
		}
	}
	for key := range runKeys {
		if _, ok := rcv.byKey[key]; !ok {
			t.Errorf("Idempotency-Key %q (a succeeded run) never reached the receiver", key)
		}
	}
	t.Logf("keys delivered twice (in flight at the kill, re-sent after the restart): %d; requests in flight at the receiver at the kill: %d",
		twice, inFlightAtRcv)
	if twice > crashMaxWorkers {
		t.Errorf("%d Idempotency-Keys arrived twice, more than the %d runs that can be in flight (--max-workers)", twice, crashMaxWorkers)
	}

	// The recovered node stops cleanly.
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	if err := p2.wait(15 * time.Second); err != nil {
		t.Errorf("second node after SIGTERM: %v, want a clean exit", err)
	}
	t.Logf("summary: committed at kill %d, keys delivered twice %d, recovered in %v (ready %v); whole test %v",
		len(committed), twice, recoveredIn.Round(time.Millisecond), readyIn.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// crashEnv is the environment of the binary: the key and the loopback
// permission.
func crashEnv() []string {
	return serveEnv("AUTOHOOK_BOOTSTRAP_API_KEY="+crashAPIKey, "AUTOHOOK_ALLOW_PRIVATE_NETWORKS=true")
}

// startServe starts the binary on dataDir, its output in tmp/name.stdout and
// tmp/name.stderr, and waits until it is ready.
func startServe(t *testing.T, bin, tmp, dataDir, name string) *proc {
	t.Helper()
	p := startProc(t, bin, tmp, name, crashEnv(), "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--rate-limit", "0",
		"--max-workers", fmt.Sprint(crashMaxWorkers))
	p.waitReady(t, crashReadyWait)
	return p
}

// checkSecondProcessRefused starts another node on dataDir while the first
// runs: it must exit non-zero, quickly, saying the data dir is in use.
func checkSecondProcessRefused(t *testing.T, bin, tmp, dataDir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	cmd.Env = crashEnv()
	cmd.WaitDelay = 2 * time.Second
	dieWithParent(cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	_ = os.WriteFile(filepath.Join(tmp, "second.out"), out.Bytes(), 0o600)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() <= 0 {
		t.Fatalf("a second process on the same data dir: %v after %v, want a non-zero exit; output:\n%s", err, took, out.Bytes())
	}
	if took > 10*time.Second {
		t.Errorf("a second process on the same data dir took %v to give up, want it to exit at once", took)
	}
	if strings.Contains(out.String(), "panic:") {
		t.Errorf("bug: a second process on the same data dir panicked instead of reporting that the data dir is in use (exit %d):\n%s", exit.ExitCode(), out.Bytes())
	} else if !strings.Contains(out.String(), "in use") {
		t.Errorf("a second process on the same data dir said %q, want a message that the data dir is in use", out.String())
	}
}

// keyArrivals is when one Idempotency-Key arrived, and with which records.
type keyArrivals struct {
	arrivals  []time.Time
	recordIDs []string // distinct record ids seen with the key
}

// receiverSnapshot is what the receiver got, by Idempotency-Key and by
// record.
type receiverSnapshot struct {
	byKey    map[string]*keyArrivals
	byRecord map[string]int
	bad      []string
}

func snapshot(rc *crmReceiver) receiverSnapshot {
	ok, bad := rc.arrivals()
	s := receiverSnapshot{byKey: map[string]*keyArrivals{}, byRecord: map[string]int{}, bad: bad}
	for _, a := range ok {
		ka := s.byKey[a.key]
		if ka == nil {
			ka = &keyArrivals{}
			s.byKey[a.key] = ka
		}
		ka.arrivals = append(ka.arrivals, a.at)
		if !slices.Contains(ka.recordIDs, a.recordID) {
			ka.recordIDs = append(ka.recordIDs, a.recordID)
		}
		s.byRecord[a.recordID]++
	}
	return s
}
