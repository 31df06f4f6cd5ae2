package main

// The operations of docs/OPERATIONS.md, driven through the real binary: a
// node with the wrong key is refused, a backup taken while serving restores
// everything, and keys are changed node by node while the nodes serve.

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/servertest"
)

const opsAPIKey = "ahk_ops-test-admin-key-0123456789"

func opsKey(fill byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{fill}, 32))
}

// freeAddr returns a loopback address that was free a moment ago, so that a
// node restarted on it keeps its address.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serveOn starts `autohook serve` on addr with the admin key and loopback
// allowed, plus env and args, and waits until it is ready.
func serveOn(t *testing.T, bin, tmp, name, addr string, env []string, args ...string) *proc {
	t.Helper()
	env = append(serveEnv("AUTOHOOK_BOOTSTRAP_API_KEY="+opsAPIKey, "AUTOHOOK_ALLOW_PRIVATE_NETWORKS=true"), env...)
	p := startProc(t, bin, tmp, name, env, append([]string{"serve", "--listen", addr, "--rate-limit", "0"}, args...)...)
	p.waitReady(t, 90*time.Second)
	return p
}

// stopProc stops a node with SIGTERM and waits for a clean exit.
func stopProc(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("%s: SIGTERM: %v", p.name, err)
	}
	if err := p.wait(30 * time.Second); err != nil {
		t.Fatalf("%s after SIGTERM: %v", p.name, err)
	}
}

// runTool runs the binary with args and env to completion.
func runTool(t *testing.T, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = serveEnv(env...)
	dieWithParent(cmd)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func leadsCollection(t *testing.T, api *servertest.Client) {
	t.Helper()
	api.Must(t, http.StatusCreated, "POST", "/api/v1/collections", map[string]any{
		"key": "leads", "name": "Leads",
		"fields": []map[string]any{{"key": "name", "type": "text"}, {"key": "externalId", "type": "text"}},
		"stages": []string{"New"},
	}, nil)
}

func TestWrongKeyExitsNonZero(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the real binary; skipped with -short")
	}
	t.Parallel()
	bin := autohookBinary(t)
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	p := serveOn(t, bin, tmp, "serve1", "127.0.0.1:0", []string{"AUTOHOOK_SECRET_KEY=" + opsKey(1)}, "--data-dir", data)
	newAPI(p.base, opsAPIKey, 1).Must(t, http.StatusNoContent, "PUT", "/api/v1/secrets/TOKEN", map[string]any{"value": "s3cret-value"}, nil)
	stopProc(t, p)

	wrong := startProc(t, bin, tmp, "serve2", serveEnv("AUTOHOOK_SECRET_KEY="+opsKey(2)), "serve", "--data-dir", data, "--listen", "127.0.0.1:0")
	err := wrong.wait(30 * time.Second)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("a node with another key: %v, want a non-zero exit", err)
	}
	stderr, _ := os.ReadFile(wrong.errPath)
	stdout, _ := os.ReadFile(wrong.outPath)
	for _, want := range []string{"wrong secret key", "AUTOHOOK_SECRET_KEY is not the key this database's secrets are sealed with", "rotate-key"} {
		if !bytes.Contains(stderr, []byte(want)) {
			t.Errorf("stderr %q does not say %q", stderr, want)
		}
	}
	if bytes.Contains(stdout, []byte("ready on")) {
		t.Errorf("the node with another key said it was ready: %s", stdout)
	}
}

// A backup taken while serve runs under load restores, in another data dir
// with the same key, every record, automation and run it holds — and at
// least every record acknowledged before the backup began; the runs that
// were in flight finish on the restored node (their requests sent again
// with the same Idempotency-Key).
func TestBackupWhileServing(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the real binary; skipped with -short")
	}
	t.Parallel()
	bin := autohookBinary(t)
	tmp := t.TempDir()
	data1, data2 := filepath.Join(tmp, "data1"), filepath.Join(tmp, "data2")
	rc := newCRMReceiver(t, "")
	p1 := serveOn(t, bin, tmp, "serve1", "127.0.0.1:0", nil, "--data-dir", data1) // the key generated into data1
	api1 := newAPI(p1.base, opsAPIKey, 8)
	leadsCollection(t, api1)
	autoID := savePushLeads(t, api1, rc.URL+"/leads", nil)

	l := startLoad(loadConfig{prefix: "lead", rate: 80, clients: 4, max: 240, targets: func() []*servertest.Client { return []*servertest.Client{api1} }})
	for l.ackedCount() < 60 {
		time.Sleep(10 * time.Millisecond)
	}
	before := l.ackedIDsNow()
	backup := filepath.Join(tmp, "backup.db")
	out, err := runTool(t, bin, nil, "backup", "--data-dir", data1, "--to", backup)
	if err != nil {
		t.Fatalf("backup while serving: %v\n%s", err, out)
	}
	t.Logf("backup: %s", strings.TrimSpace(out))
	if !strings.Contains(out, "integrity ok") {
		t.Errorf("backup output %q does not report the integrity check", out)
	}
	if out, err := runTool(t, bin, nil, "backup", "--data-dir", data1, "--to", backup); err == nil || !strings.Contains(out, "already exists") {
		t.Errorf("a backup onto an existing file: %v %q, want a refusal", err, out)
	}
	l.finish()
	settle(t, api1, autoID, 60*time.Second)
	recs1 := listAll[apiRecord](t, api1, "/api/v1/collections/leads/records")
	runs1 := listAll[apiRun](t, api1, "/api/v1/automations/"+autoID+"/runs")
	autos1 := listAll[map[string]any](t, api1, "/api/v1/automations")
	stopProc(t, p1)

	// Restore: the copy as the database of a new data dir, with the key.
	if err := os.MkdirAll(data2, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, backup, filepath.Join(data2, "autohook.db"))
	copyFile(t, filepath.Join(data1, "secret.key"), filepath.Join(data2, "secret.key"))
	p2 := serveOn(t, bin, tmp, "restored", "127.0.0.1:0", nil, "--data-dir", data2)
	api2 := newAPI(p2.base, opsAPIKey, 8)
	recs2, runs2 := settle(t, api2, autoID, 60*time.Second)
	checkRecordsAndRuns(t, recs2, runs2, before, nil)
	if len(recs2) < len(before) || len(recs2) > len(recs1) {
		t.Errorf("the restored node has %d records; %d were acknowledged before the backup and %d at the end", len(recs2), len(before), len(recs1))
	}
	byID1 := map[string]apiRecord{}
	for _, r := range recs1 {
		byID1[r.ID] = r
	}
	for _, r := range recs2 {
		if o, ok := byID1[r.ID]; !ok || o.Fields["name"] != r.Fields["name"] {
			t.Errorf("restored record %s (%v) is not the original's %v", r.ID, r.Fields, o.Fields)
		}
	}
	runIDs1 := map[string]string{}
	for _, r := range runs1 {
		runIDs1[r.ID] = r.RecordID
	}
	for _, r := range runs2 {
		if rec, ok := runIDs1[r.ID]; !ok || rec != r.RecordID {
			t.Errorf("restored run %s (record %s) is not in the original's history", r.ID, r.RecordID)
		}
	}
	autos2 := listAll[map[string]any](t, api2, "/api/v1/automations")
	if len(autos2) != len(autos1) || len(autos2) == 0 || autos2[0]["id"] != autos1[0]["id"] || autos2[0]["name"] != autos1[0]["name"] {
		t.Errorf("restored automations %v, want %v", autos2, autos1)
	}
	api2.Must(t, http.StatusOK, "GET", "/api/v1/secrets", nil, nil)
	twice := 0
	for _, ka := range snapshot(rc).byKey {
		if len(ka.arrivals) > 1 {
			twice++
		}
	}
	t.Logf("backup taken after %d acknowledged records: it holds %d records and %d runs (the original ended with %d); %d requests were sent again by the restored node (in flight at the backup)",
		len(before), len(recs2), len(runs2), len(recs1), twice)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A key change node by node on PostgreSQL, as docs/OPERATIONS.md tells it,
// under load, with a secret in a header and signed requests: every run
// delivers, with the right secret and a valid signature, at every stage;
// a node with the old key alone is refused at the end.
func TestRotateKeyWhileServing(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the real binary on PostgreSQL; skipped with -short")
	}
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	bin := autohookBinary(t)
	tmp := t.TempDir()
	const token = "rcv-token-7c1f"
	const signingSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	oldKey, newKey := opsKey(1), opsKey(2)
	rc := newCRMReceiver(t, "Bearer "+token)
	addrs := []string{freeAddr(t), freeAddr(t)}
	dataDirs := []string{filepath.Join(tmp, "data1"), filepath.Join(tmp, "data2")}
	var (
		mu    sync.Mutex
		procs = make([]*proc, 2)
		apis  = []*servertest.Client{newAPI("http://"+addrs[0], opsAPIKey, 8), newAPI("http://"+addrs[1], opsAPIKey, 8)}
		up    = []bool{false, false}
	)
	start := func(i int, name string, keys ...string) {
		env := []string{"AUTOHOOK_DATABASE_URL=" + dbURL, "AUTOHOOK_SECRET_KEY=" + keys[0]}
		if len(keys) > 1 {
			env = append(env, "AUTOHOOK_SECRET_KEY_PREVIOUS="+keys[1])
		}
		p := serveOn(t, bin, tmp, name, addrs[i], env, "--data-dir", dataDirs[i], "--db-conns", "8")
		mu.Lock()
		procs[i], up[i] = p, true
		mu.Unlock()
	}
	restart := func(i int, name string, keys ...string) {
		mu.Lock()
		up[i] = false
		p := procs[i]
		mu.Unlock()
		stopProc(t, p)
		start(i, name, keys...)
	}
	targets := func() []*servertest.Client {
		mu.Lock()
		defer mu.Unlock()
		var out []*servertest.Client
		for i, ok := range up {
			if ok {
				out = append(out, apis[i])
			}
		}
		return out
	}
	start(0, "n1-old", oldKey)
	start(1, "n2-old", oldKey)
	leadsCollection(t, apis[0])
	apis[0].Must(t, http.StatusNoContent, "PUT", "/api/v1/secrets/RCV_TOKEN", map[string]any{"value": token}, nil)
	autoID := savePushLeads(t, apis[0], rc.URL+"/leads", []map[string]any{{"name": "Authorization", "value": "Bearer {secrets.RCV_TOKEN}"}},
		map[string]any{"signing": map[string]any{"secret": signingSecret}})

	l := startLoad(loadConfig{prefix: "lead", rate: 30, clients: 4, targets: targets})
	stage := func(name string) {
		n := l.ackedCount()
		for l.ackedCount() < n+20 {
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("%s: %d records acknowledged so far", name, l.ackedCount())
	}
	stage("both nodes on the old key")
	restart(0, "n1-both", newKey, oldKey)
	stage("node 1 on the new key with the old as the previous, node 2 on the old key")
	// A secret saved now (through node 1) must open on node 2 too: it is
	// sealed with the old key until rotate-key.
	apis[0].Must(t, http.StatusNoContent, "PUT", "/api/v1/secrets/RCV_TOKEN", map[string]any{"value": token}, nil)
	stage("the secret saved again through node 1")
	restart(1, "n2-both", newKey, oldKey)
	stage("both nodes with both keys")
	out, err := runTool(t, bin, []string{"AUTOHOOK_SECRET_KEY=" + oldKey}, "rotate-key", "--database", dbURL, "--data-dir", filepath.Join(tmp, "tool"), "--new-key", newKey)
	if err != nil {
		t.Fatalf("rotate-key: %v\n%s", err, out)
	}
	t.Logf("rotate-key: %s", strings.TrimSpace(out))
	stage("after rotate-key")
	apis[1].Must(t, http.StatusNoContent, "PUT", "/api/v1/secrets/RCV_TOKEN", map[string]any{"value": token}, nil)
	restart(0, "n1-new", newKey)
	restart(1, "n2-new", newKey)
	stage("both nodes on the new key alone")
	l.stop()
	records, runs := settle(t, apis[0], autoID, 90*time.Second)
	f := account(t, "key change node by node", apis[0], l, rc, records, runs)
	if f.lost > 0 || f.committed == 0 {
		t.Errorf("%d of %d records lost during the key change", f.lost, f.committed)
	}
	// Every request carried a valid signature.
	verifier, err := standardwebhooks.NewWebhook(signingSecret)
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, r := range rc.Requests() {
		if err := verifier.Verify(r.Body, r.Header); err != nil {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d requests did not carry a valid signature", bad, rc.Count())
	}
	// The old key alone no longer starts a node.
	old := startProc(t, bin, tmp, "old-again", serveEnv("AUTOHOOK_DATABASE_URL="+dbURL, "AUTOHOOK_SECRET_KEY="+oldKey),
		"serve", "--data-dir", filepath.Join(tmp, "data3"), "--listen", "127.0.0.1:0")
	var exit *exec.ExitError
	if err := old.wait(60 * time.Second); !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Errorf("a node with the old key alone after the rotation: %v, want a non-zero exit", err)
	}
	if b, _ := os.ReadFile(old.errPath); !bytes.Contains(b, []byte("wrong secret key")) {
		t.Errorf("a node with the old key alone said %q", b)
	}
}
