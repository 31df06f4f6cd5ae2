package main

// Helpers of the tests that drive the real binary (crash_test.go,
// cluster_test.go): the binary, built once per test process; `autohook
// serve` processes with their output in files; the API of a process; and a
// receiver that answers like a CRM.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/servertest"
)

// binary is the autohook binary the tests share, built by the first test
// that needs it.
var binary struct {
	once sync.Once
	dir  string // removed by TestMain
	path string
	out  []byte
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

// autohookBinary returns the binary of this package, building it the first
// time it is called in the test process.
func autohookBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			if goTool, err = exec.LookPath("go"); err != nil {
				binary.err = fmt.Errorf("no go tool: %v", err)
				return
			}
		}
		if binary.dir, binary.err = os.MkdirTemp("", "autohook-test-bin-"); binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "autohook")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		binary.out, binary.err = exec.CommandContext(ctx, goTool, "build", "-o", binary.path, ".").CombinedOutput()
	})
	if binary.err != nil {
		t.Fatalf("go build: %v\n%s", binary.err, binary.out)
	}
	return binary.path
}

// serveEnv is the environment of the binary: the test's, without AUTOHOOK_*
// variables that would change the set-up under test (a database URL, a
// listen address), plus extra.
func serveEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTOHOOK_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
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

// proc is a running `autohook serve`.
type proc struct {
	name             string
	cmd              *exec.Cmd
	base             string // http://ADDR from its "ready on" line
	outPath, errPath string
	done             chan struct{}
	err              error // cmd.Wait's, once done is closed
}

// startProc starts bin with args and env, its output in dir/name.stdout and
// dir/name.stderr, without waiting for it to be ready: processes started
// one after the other this way run their start-up together. When t ends the
// process is killed (if still running) and, if t failed, the ends of its
// output are logged.
func startProc(t *testing.T, bin, dir, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, outPath: filepath.Join(dir, name+".stdout"), errPath: filepath.Join(dir, name+".stderr"), done: make(chan struct{})}
	stdout, err := os.Create(p.outPath)
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(p.errPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		stdout.Close()
		stderr.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p.cmd = cmd
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
			logTail(t, p.outPath)
			logTail(t, p.errPath)
		}
	})
	return p
}

// wait waits up to d for the process to exit and returns how it exited.
func (p *proc) wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		return fmt.Errorf("still running after %v", d)
	}
}

var readyLine = regexp.MustCompile(`ready on (http://\S+)`)

// tryReady waits up to d for the process's "ready on" line, or its exit,
// and sets p.base.
func (p *proc) tryReady(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		data, _ := os.ReadFile(p.outPath)
		if m := readyLine.FindSubmatch(data); m != nil {
			p.base = string(m[1])
			return nil
		}
		select {
		case <-p.done:
			errOut, _ := os.ReadFile(p.errPath)
			return fmt.Errorf("%s exited before it was ready: %v; stderr: %s", p.name, p.err, bytes.TrimSpace(tail(errOut)))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v", p.name, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitReady is tryReady that fails the test.
func (p *proc) waitReady(t *testing.T, d time.Duration) {
	t.Helper()
	if err := p.tryReady(d); err != nil {
		t.Fatal(err)
	}
}

// tail returns the last 16 KiB of data.
func tail(data []byte) []byte {
	const max = 16 << 10
	if len(data) > max {
		return append([]byte("...\n"), data[len(data)-max:]...)
	}
	return data
}

func logTail(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Logf("%s: %v", path, err)
		return
	}
	t.Logf("--- %s ---\n%s", filepath.Base(path), tail(data))
}

// newAPI returns a client of a process's API with key, for conns
// concurrent callers.
func newAPI(base, key string, conns int) *servertest.Client {
	return &servertest.Client{Base: base, Key: key, HTTP: &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: conns},
	}}
}

// listAll reads every page of a list endpoint.
func listAll[T any](t *testing.T, a *servertest.Client, path string) []T {
	t.Helper()
	var all []T
	cursor := ""
	for range 100 {
		var page struct {
			Items      []T    `json:"items"`
			NextCursor string `json:"nextCursor"`
		}
		a.Must(t, http.StatusOK, "GET", path+"?limit=500&cursor="+url.QueryEscape(cursor), nil, &page)
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
	t.Fatalf("GET %s: more than 100 pages", path)
	return nil
}

// apiRecord is a record as the API returns it.
type apiRecord struct {
	ID      string         `json:"id"`
	Fields  map[string]any `json:"fields"`
	Version int64          `json:"version"`
}

// apiRun is a run as the API returns it (its steps and attempts are in
// GET /api/v1/runs/{id} only).
type apiRun struct {
	ID       string `json:"id"`
	RecordID string `json:"recordId"`
	Status   string `json:"status"`
	Steps    []struct {
		ID       string       `json:"id"`
		Type     string       `json:"type"`
		Status   string       `json:"status"`
		Attempts []apiAttempt `json:"attempts"`
	} `json:"steps"`
}

type apiAttempt struct {
	N        int         `json:"n"`
	Request  *apiRequest `json:"request"`
	Response *struct {
		Status int `json:"status"`
	} `json:"response"`
	Error *struct {
		Class   string `json:"class"`
		Message string `json:"message"`
	} `json:"error"`
}

type apiRequest struct {
	Headers map[string]string `json:"headers"`
}

// headerValue returns a header of a request in history, whatever its case.
func headerValue(req *apiRequest, name string) string {
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

// fetchRuns reads every run with its attempts, parallel at a time, spread
// over apis.
func fetchRuns(t *testing.T, apis []*servertest.Client, runs []apiRun, parallel int) []apiRun {
	t.Helper()
	out := make([]apiRun, len(runs))
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for i, r := range runs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			a, err := apis[i%len(apis)].Send(context.Background(), "GET", "/api/v1/runs/"+r.ID, nil)
			if err == nil && a.Status != http.StatusOK {
				err = fmt.Errorf("status %d: %s", a.Status, a.Body)
			}
			if err == nil {
				err = json.Unmarshal(a.Body, &out[i])
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

// savePushLeads saves the automation the tests load, on collection leads:
// on every new record it POSTs {recordId, name} to url, with headers (none if
// nil), and the update_record step writes the answer's /id into externalId.
// It returns the automation's id. Members of extra are added to the
// automation document (say, signing).
func savePushLeads(t *testing.T, api *servertest.Client, url string, headers []map[string]any, extra ...map[string]any) string {
	t.Helper()
	send := map[string]any{
		"id": "send", "type": "call_api", "method": "POST", "url": url,
		"body": map[string]any{"contentType": "application/json", "fields": []map[string]any{
			{"key": "recordId", "type": "string", "value": "{record.id}"},
			{"key": "name", "type": "string", "value": "{record.name}"},
		}},
		"response": map[string]any{"type": "json", "schema": []map[string]any{
			{"pointer": "/id", "field": "externalId", "required": true},
		}},
	}
	if headers != nil {
		send["headers"] = headers
	}
	doc := map[string]any{
		"name": "Push leads", "collection": "leads",
		"trigger": map[string]any{"type": "record_added"},
		"steps": []map[string]any{
			send,
			{"id": "save", "type": "update_record", "set": []map[string]any{
				{"field": "externalId", "value": "{fields.externalId}"},
			}},
		},
	}
	for _, e := range extra {
		maps.Copy(doc, e)
	}
	var auto struct{ ID string }
	api.Must(t, http.StatusCreated, "POST", "/api/v1/automations", doc, &auto)
	if auto.ID == "" {
		t.Fatal("the automation was saved without an id")
	}
	return auto.ID
}

// checkRecordsAndRuns checks the final state of the push automation: every
// committed record exists, every run is for a record that exists, every
// record has exactly one run, and every record not pending holds
// externalId ext-<its id> at version 2 (created, then updated once by
// update_record).
func checkRecordsAndRuns(t *testing.T, records []apiRecord, runs []apiRun, committed []string, pending map[string]bool) {
	t.Helper()
	recByID := make(map[string]apiRecord, len(records))
	for _, r := range records {
		recByID[r.ID] = r
	}
	runsByRecord := map[string][]string{}
	for _, r := range runs {
		runsByRecord[r.RecordID] = append(runsByRecord[r.RecordID], r.ID)
		if _, ok := recByID[r.RecordID]; !ok {
			t.Errorf("run %s is for record %s, which does not exist", r.ID, r.RecordID)
		}
	}
	for _, id := range committed {
		if _, ok := recByID[id]; !ok {
			t.Errorf("committed record %s is gone", id)
		}
	}
	for _, r := range records {
		if n := len(runsByRecord[r.ID]); n != 1 {
			t.Errorf("record %s has %d runs of the push automation, want 1", r.ID, n)
		}
		if pending[r.ID] {
			continue
		}
		if got, want := r.Fields["externalId"], "ext-"+r.ID; got != want {
			t.Errorf("record %s: externalId %v, want %q", r.ID, got, want)
		}
		if r.Version != 2 {
			t.Errorf("record %s: version %d, want 2 (created, then updated once by update_record)", r.ID, r.Version)
		}
	}
}

// crmReceiver answers every request 200 {"id":"ext-<recordId>"} after a
// few milliseconds, as a CRM would, and keeps every arrival.
type crmReceiver struct {
	*servertest.Receiver
	inFlight atomic.Int64 // requests being answered
	auth     string       // the Authorization every request must carry; "" for any
	reset    atomic.Bool  // while set, the connection is reset instead of answered
}

// resetConn closes a request's connection with a TCP reset (SO_LINGER 0)
// instead of answering: the request arrived, its answer never does.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// arrival is a well-formed request at a crmReceiver.
type arrival struct {
	path, key, recordID string
	at                  time.Time
}

func newCRMReceiver(t *testing.T, auth string) *crmReceiver {
	return newCRMReceiverOn(t, nil, auth)
}

// newCRMReceiverOn is newCRMReceiver on listener l (nil: loopback).
func newCRMReceiverOn(t *testing.T, l net.Listener, auth string) *crmReceiver {
	rc := &crmReceiver{auth: auth}
	rc.Receiver = servertest.NewReceiverOn(t, l, func(w http.ResponseWriter, r *http.Request) {
		rc.inFlight.Add(1)
		defer rc.inFlight.Add(-1)
		var in struct {
			RecordID string `json:"recordId"`
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &in)
		if rc.reset.Load() {
			resetConn(w)
			return
		}
		time.Sleep(time.Duration(2000+rand.IntN(3000)) * time.Microsecond)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"id": "ext-" + in.RecordID})
	})
	return rc
}

// arrivals returns, in the order they arrived, the well-formed requests (a
// JSON body with a recordId, an Idempotency-Key, the Authorization wanted)
// and a description of every other one.
func (rc *crmReceiver) arrivals() (ok []arrival, bad []string) {
	for _, r := range rc.Requests() {
		var in struct {
			RecordID string `json:"recordId"`
		}
		err := json.Unmarshal(r.Body, &in)
		key := r.Header.Get("Idempotency-Key")
		switch {
		case err != nil || in.RecordID == "":
			bad = append(bad, fmt.Sprintf("%s %s: body %q: %v", r.Method, r.URL, r.Body, err))
		case key == "":
			bad = append(bad, fmt.Sprintf("%s %s: no Idempotency-Key (record %s)", r.Method, r.URL, in.RecordID))
		case rc.auth != "" && r.Header.Get("Authorization") != rc.auth:
			bad = append(bad, fmt.Sprintf("%s %s: record %s: Authorization %q, want %q",
				r.Method, r.URL, in.RecordID, r.Header.Get("Authorization"), rc.auth))
		default:
			ok = append(ok, arrival{path: r.URL.Path, key: key, recordID: in.RecordID, at: r.At})
		}
	}
	return ok, bad
}

// byPath returns the well-formed requests to path.
func (rc *crmReceiver) byPath(path string) []arrival {
	all, _ := rc.arrivals()
	var out []arrival
	for _, a := range all {
		if a.path == path {
			out = append(out, a)
		}
	}
	return out
}

// problems describes the requests that were not well-formed.
func (rc *crmReceiver) problems() []string {
	_, bad := rc.arrivals()
	return bad
}
