package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
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
	bin := buildAutohook(t, tmp)
	t.Logf("built %s in %v", bin, time.Since(began).Round(time.Millisecond))

	rc := newCrashReceiver(t)
	dataDir := filepath.Join(tmp, "data")

	// First node.
	p1 := startServe(t, bin, tmp, dataDir, "serve1")
	api := newCrashAPI(p1.base)

	// A second process on the same data dir is refused at once.
	checkSecondProcessRefused(t, bin, tmp, dataDir)

	api.must(t, http.StatusCreated, "POST", "/api/v1/collections", map[string]any{
		"key": "leads", "name": "Leads",
		"fields": []map[string]any{
			{"key": "name", "type": "text"},
			{"key": "externalId", "type": "text"},
		},
		"stages": []string{"New"},
	}, nil)
	var auto struct{ ID string }
	api.must(t, http.StatusCreated, "POST", "/api/v1/automations", map[string]any{
		"name": "Push leads", "collection": "leads",
		"trigger": map[string]any{"type": "record_added"},
		"steps": []map[string]any{
			{
				"id": "send", "type": "call_api", "method": "POST", "url": rc.URL + "/leads",
				"body": map[string]any{"contentType": "application/json", "fields": []map[string]any{
					{"key": "recordId", "type": "string", "value": "{record.id}"},
					{"key": "name", "type": "string", "value": "{record.name}"},
				}},
				"response": map[string]any{"type": "json", "schema": []map[string]any{
					{"pointer": "/id", "field": "externalId", "required": true},
				}},
			},
			{"id": "save", "type": "update_record", "set": []map[string]any{
				{"field": "externalId", "value": "{fields.externalId}"},
			}},
		},
	}, &auto)
	if auto.ID == "" {
		t.Fatal("the automation was saved without an id")
	}

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
				status, body, err := api.do(context.Background(), "POST", "/api/v1/collections/leads/records",
					map[string]any{"fields": map[string]any{"name": fmt.Sprintf("lead-%03d", i)}})
				if err != nil {
					return // the node died: this record may or may not exist
				}
				if status != http.StatusCreated {
					mu.Lock()
					loadErrs = append(loadErrs, fmt.Sprintf("create lead-%03d: status %d: %s", i, status, body))
					mu.Unlock()
					return
				}
				var rec struct{ ID string }
				if err := json.Unmarshal(body, &rec); err != nil || rec.ID == "" {
					mu.Lock()
					loadErrs = append(loadErrs, fmt.Sprintf("create lead-%03d: bad answer %q: %v", i, body, err))
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
	rcvBeforeKill := rc.total()
	t.Logf("killed after %v: %d records committed (acknowledged), %d requests received so far, %d in flight at the receiver",
		killedAt.Sub(loadStart).Round(time.Millisecond), len(committed), rcvBeforeKill, inFlightAtRcv)
	if len(committed) < crashKillAt || len(committed) >= crashTotal {
		t.Fatalf("%d records committed, want at least %d and fewer than %d (the kill must land during the load)", len(committed), crashKillAt, crashTotal)
	}

	// Restart on the same data dir: the kernel released the lock.
	restartAt := time.Now()
	p2 := startServe(t, bin, tmp, dataDir, "serve2")
	readyIn := time.Since(restartAt)
	api = newCrashAPI(p2.base)

	// Recovery: every committed record holds its externalId and every run
	// of the automation succeeded.
	var records []crashRecord
	var runs []crashRun
	deadline := time.Now().Add(crashRecoverFor)
	for {
		records = listAll[crashRecord](t, api, "/api/v1/collections/leads/records")
		runs = listAll[crashRun](t, api, "/api/v1/automations/"+auto.ID+"/runs")
		byID := make(map[string]crashRecord, len(records))
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

	// Proofs.
	recByID := make(map[string]crashRecord, len(records))
	for _, r := range records {
		recByID[r.ID] = r
	}
	// Every committed record exists and got exactly one run; so did every
	// record that exists (a committed change always gets its runs).
	runsByRecord := map[string][]string{}
	for _, r := range runs {
		runsByRecord[r.RecordID] = append(runsByRecord[r.RecordID], r.ID)
		if _, ok := recByID[r.RecordID]; !ok {
			t.Errorf("run %s is for record %s, which does not exist", r.ID, r.RecordID)
		}
	}
	for _, id := range committed {
		if _, ok := recByID[id]; !ok {
			t.Errorf("committed record %s is gone after the crash", id)
		}
	}
	for _, r := range records {
		if n := len(runsByRecord[r.ID]); n != 1 {
			t.Errorf("record %s has %d runs, want 1", r.ID, n)
		}
		if got, want := r.Fields["externalId"], "ext-"+r.ID; got != want {
			t.Errorf("record %s: externalId %v, want %q", r.ID, got, want)
		}
		// (d) created (version 1), updated once by the update_record step.
		if r.Version != 2 {
			t.Errorf("record %s: version %d, want 2 (created, then updated once)", r.ID, r.Version)
		}
	}

	// Every committed record's request reached the receiver.
	rcv := rc.snapshot()
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
	details := fetchRuns(t, api, runs)
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

// buildAutohook builds the binary of this package into dir.
func buildAutohook(t *testing.T, dir string) string {
	t.Helper()
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			t.Fatalf("no go tool: %v", err)
		}
	}
	bin := filepath.Join(dir, "autohook")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, ".")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serveProc is a running `autohook serve`.
type serveProc struct {
	cmd  *exec.Cmd
	base string // http://ADDR from its "ready on" line
	done chan struct{}
	err  error // cmd.Wait's, once done is closed
}

// wait waits up to d for the process to exit and returns how it exited.
func (p *serveProc) wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		return fmt.Errorf("still running after %v", d)
	}
}

var readyLine = regexp.MustCompile(`ready on (http://\S+)`)

// crashEnv is the environment of the binary: the test's, without AUTOHOOK_*
// variables that would change the set-up under test (a database URL, a
// listen address), plus the key and the loopback permission.
func crashEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTOHOOK_") {
			env = append(env, kv)
		}
	}
	return append(env, "AUTOHOOK_BOOTSTRAP_API_KEY="+crashAPIKey, "AUTOHOOK_ALLOW_PRIVATE_NETWORKS=true")
}

// dieWithParent makes the kernel kill the child when the test process dies
// without running its cleanups (a -timeout panic): Pdeathsig exists on Linux
// only, so it is set by name.
func dieWithParent(cmd *exec.Cmd) {
	attr := &syscall.SysProcAttr{}
	if f := reflect.ValueOf(attr).Elem().FieldByName("Pdeathsig"); f.IsValid() && f.CanSet() {
		f.Set(reflect.ValueOf(syscall.SIGKILL))
	}
	cmd.SysProcAttr = attr
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// startServe starts the binary on dataDir, its output in tmp/name.stdout and
// tmp/name.stderr, and waits until it is ready.
func startServe(t *testing.T, bin, tmp, dataDir, name string) *serveProc {
	t.Helper()
	outPath, errPath := filepath.Join(tmp, name+".stdout"), filepath.Join(tmp, name+".stderr")
	stdout, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(errPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--data-dir", dataDir, "--listen", freeAddr(t), "--rate-limit", "0",
		"--max-workers", fmt.Sprint(crashMaxWorkers))
	cmd.Env = crashEnv()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		stdout.Close()
		stderr.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &serveProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		stdout.Close()
		stderr.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			logTail(t, outPath)
			logTail(t, errPath)
		}
	})
	deadline := time.Now().Add(crashReadyWait)
	for {
		data, _ := os.ReadFile(outPath)
		if m := readyLine.FindSubmatch(data); m != nil {
			p.base = string(m[1])
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready: %v", name, p.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %v", name, crashReadyWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func logTail(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Logf("%s: %v", path, err)
		return
	}
	const max = 16 << 10
	if len(data) > max {
		data = append([]byte("...\n"), data[len(data)-max:]...)
	}
	t.Logf("--- %s ---\n%s", filepath.Base(path), data)
}

// checkSecondProcessRefused starts another node on dataDir while the first
// runs: it must exit non-zero, quickly, saying the data dir is in use.
func checkSecondProcessRefused(t *testing.T, bin, tmp, dataDir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--data-dir", dataDir, "--listen", freeAddr(t))
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

// crashReceiver answers every request 200 {"id":"ext-<recordId>"} after a
// few milliseconds, and records the arrivals of every Idempotency-Key.
type crashReceiver struct {
	*httptest.Server
	inFlight atomic.Int64
	mu       sync.Mutex
	byKey    map[string]*keyArrivals
	byRecord map[string]int
	bad      []string
	n        int
}

type keyArrivals struct {
	arrivals  []time.Time
	recordIDs []string // distinct record ids seen with the key
}

type receiverSnapshot struct {
	byKey    map[string]*keyArrivals
	byRecord map[string]int
	bad      []string
}

func newCrashReceiver(t *testing.T) *crashReceiver {
	rc := &crashReceiver{byKey: map[string]*keyArrivals{}, byRecord: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.inFlight.Add(1)
		defer rc.inFlight.Add(-1)
		at := time.Now()
		body, err := io.ReadAll(r.Body)
		var in struct {
			RecordID string `json:"recordId"`
		}
		if err == nil {
			err = json.Unmarshal(body, &in)
		}
		key := r.Header.Get("Idempotency-Key")
		rc.mu.Lock()
		rc.n++
		switch {
		case err != nil || in.RecordID == "":
			rc.bad = append(rc.bad, fmt.Sprintf("%s %s: body %q: %v", r.Method, r.URL, body, err))
		case key == "":
			rc.bad = append(rc.bad, fmt.Sprintf("%s %s: no Idempotency-Key (record %s)", r.Method, r.URL, in.RecordID))
		default:
			ka := rc.byKey[key]
			if ka == nil {
				ka = &keyArrivals{}
				rc.byKey[key] = ka
			}
			ka.arrivals = append(ka.arrivals, at)
			if !slices.Contains(ka.recordIDs, in.RecordID) {
				ka.recordIDs = append(ka.recordIDs, in.RecordID)
			}
			rc.byRecord[in.RecordID]++
		}
		rc.mu.Unlock()
		time.Sleep(time.Duration(2000+rand.IntN(3000)) * time.Microsecond)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"id": "ext-" + in.RecordID})
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *crashReceiver) total() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.n
}

func (rc *crashReceiver) snapshot() receiverSnapshot {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	s := receiverSnapshot{byKey: map[string]*keyArrivals{}, byRecord: map[string]int{}, bad: slices.Clone(rc.bad)}
	for k, v := range rc.byKey {
		s.byKey[k] = &keyArrivals{arrivals: slices.Clone(v.arrivals), recordIDs: slices.Clone(v.recordIDs)}
	}
	for k, v := range rc.byRecord {
		s.byRecord[k] = v
	}
	return s
}

// crashAPI calls the node's API with the bootstrap key.
type crashAPI struct {
	base string
	hc   *http.Client
}

func newCrashAPI(base string) *crashAPI {
	return &crashAPI{base: base, hc: &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: crashClients * 2},
	}}
}

func (a *crashAPI) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+crashAPIKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

func (a *crashAPI) must(t *testing.T, want int, method, path string, body, out any) {
	t.Helper()
	status, data, err := a.do(context.Background(), method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
}

type crashRecord struct {
	ID      string         `json:"id"`
	Fields  map[string]any `json:"fields"`
	Version int64          `json:"version"`
}

type crashRun struct {
	ID       string `json:"id"`
	RecordID string `json:"recordId"`
	Status   string `json:"status"`
	Steps    []struct {
		ID       string         `json:"id"`
		Type     string         `json:"type"`
		Status   string         `json:"status"`
		Attempts []crashAttempt `json:"attempts"`
	} `json:"steps"`
}

type crashAttempt struct {
	N        int               `json:"n"`
	Request  *crashHTTPRequest `json:"request"`
	Response *struct {
		Status int `json:"status"`
	} `json:"response"`
	Error *struct {
		Class   string `json:"class"`
		Message string `json:"message"`
	} `json:"error"`
}

type crashHTTPRequest struct {
	Headers map[string]string `json:"headers"`
}

func headerValue(req *crashHTTPRequest, name string) string {
	if req == nil {
		return ""
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// listAll reads every page of a list endpoint.
func listAll[T any](t *testing.T, a *crashAPI, path string) []T {
	t.Helper()
	var all []T
	cursor := ""
	for range 100 {
		var page struct {
			Items      []T    `json:"items"`
			NextCursor string `json:"nextCursor"`
		}
		a.must(t, http.StatusOK, "GET", path+"?limit=500&cursor="+url.QueryEscape(cursor), nil, &page)
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
	t.Fatalf("GET %s: more than 100 pages", path)
	return nil
}

// fetchRuns reads every run with its attempts, a few at a time.
func fetchRuns(t *testing.T, a *crashAPI, runs []crashRun) []crashRun {
	t.Helper()
	out := make([]crashRun, len(runs))
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, r := range runs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			status, data, err := a.do(context.Background(), "GET", "/api/v1/runs/"+r.ID, nil)
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("status %d: %s", status, data)
			}
			if err == nil {
				err = json.Unmarshal(data, &out[i])
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("GET run %s: %v", runs[i].ID, err)
		}
	}
	return out
}
