//go:build chaos

package main

// The chaos suite: the faults a self-hosted engine meets in its first year,
// put to the real binary under paced load, each followed by the accounting
// of load_test.go (committed, delivered, lost, duplicated — 0 lost, always)
// and reported as a FIGURES line for docs/RELIABILITY.md.
//
//	go test -tags chaos -count=1 -run Chaos -v ./cmd/autohook/
//
// It needs root (mounts, network namespaces) and PostgreSQL's binaries;
// without them the tests that need them skip with a message, except under
// CI (CI=true), where they fail. The PostgreSQL it restarts is its own
// (internal/faulttest), never the shared server of the other tests.

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/mattn/go-sqlite3"

	"github.com/autohook/autohook/internal/faulttest"
	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/servertest"
)

const chaosAdminPassword = "chaos-admin-password-1"

// chaosKills is how many times the kill loops kill a node.
const chaosKills = 20

// killLoop kills one of the nodes of a set with SIGKILL at random moments
// under load and starts it again, n times.
type killLoop struct {
	t     *testing.T
	mu    sync.Mutex
	procs []*proc
	up    []bool
	apis  []*servertest.Client
	start func(i int, name string) *proc
}

func (k *killLoop) targets() []*servertest.Client {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []*servertest.Client
	for i, ok := range k.up {
		if ok {
			out = append(out, k.apis[i])
		}
	}
	return out
}

func (k *killLoop) launch(i int, name string) {
	p := k.start(i, name)
	k.mu.Lock()
	k.procs[i], k.up[i] = p, true
	k.mu.Unlock()
}

// run kills a random node n times, each after a random 0.2–1.5 s of load,
// and starts it again at once (same data dir, same address).
func (k *killLoop) run(n int, rng *rand.Rand) {
	t := k.t
	for i := 1; i <= n; i++ {
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
		victim := rng.IntN(len(k.procs))
		k.mu.Lock()
		k.up[victim] = false
		p := k.procs[victim]
		k.mu.Unlock()
		if err := p.cmd.Process.Kill(); err != nil {
			t.Fatalf("kill %s: %v", p.name, err)
		}
		if err := p.wait(10 * time.Second); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("%s: %v, want killed by SIGKILL", p.name, err)
		}
		k.launch(victim, fmt.Sprintf("node%d-%02d", victim+1, i))
	}
}

// TestChaosKillLoopSQLite: kill -9 twenty times at random moments while
// records are created at a steady rate.
func TestChaosKillLoopSQLite(t *testing.T) {
	t.Parallel()
	bin := autohookBinary(t)
	tmp := t.TempDir()
	rc := newCRMReceiver(t, "")
	addr := freeAddr(t)
	data := filepath.Join(tmp, "data")
	k := &killLoop{t: t, procs: make([]*proc, 1), up: make([]bool, 1), apis: []*servertest.Client{newAPI("http://"+addr, opsAPIKey, 8)}}
	k.start = func(_ int, name string) *proc {
		return serveOn(t, bin, tmp, name, addr, nil, "--data-dir", data, "--max-workers", "16")
	}
	k.launch(0, "node1-00")
	api := k.apis[0]
	leadsCollection(t, api)
	autoID := savePushLeads(t, api, rc.URL+"/leads", nil)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	l := startLoad(loadConfig{prefix: "lead", rate: 60, clients: 6, targets: k.targets})
	k.run(chaosKills, rand.New(rand.NewPCG(seed, 1)))
	time.Sleep(time.Second)
	l.stop()
	records, runs := settle(t, api, autoID, 2*time.Minute)
	f := account(t, fmt.Sprintf("kill -9 ×%d at random moments, SQLite", chaosKills), api, l, rc, records, runs)
	if f.lost > 0 {
		t.Errorf("%d records lost", f.lost)
	}
	if max := chaosKills * 16; f.duplicated > max {
		t.Errorf("%d requests sent again, more than the %d that can be in flight at %d kills", f.duplicated, max, chaosKills)
	}
}

// TestChaosKillLoopPostgres: two nodes on one PostgreSQL database, one of
// them (at random) killed twenty times while records are created through
// both; a killed node comes back on its data dir and takes back the jobs it
// held at once.
func TestChaosKillLoopPostgres(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	bin := autohookBinary(t)
	tmp := t.TempDir()
	rc := newCRMReceiver(t, "")
	addrs := []string{freeAddr(t), freeAddr(t)}
	k := &killLoop{t: t, procs: make([]*proc, 2), up: make([]bool, 2),
		apis: []*servertest.Client{newAPI("http://"+addrs[0], opsAPIKey, 8), newAPI("http://"+addrs[1], opsAPIKey, 8)}}
	k.start = func(i int, name string) *proc {
		return serveOn(t, bin, tmp, name, addrs[i], []string{"AUTOHOOK_DATABASE_URL=" + dbURL, "AUTOHOOK_SECRET_KEY=" + opsKey(7)},
			"--data-dir", filepath.Join(tmp, fmt.Sprintf("data%d", i+1)), "--max-workers", "16", "--db-conns", "10")
	}
	k.launch(0, "node1-00")
	k.launch(1, "node2-00")
	leadsCollection(t, k.apis[0])
	autoID := savePushLeads(t, k.apis[0], rc.URL+"/leads", nil)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	l := startLoad(loadConfig{prefix: "lead", rate: 60, clients: 6, targets: k.targets})
	k.run(chaosKills, rand.New(rand.NewPCG(seed, 2)))
	time.Sleep(time.Second)
	l.stop()
	records, runs := settle(t, k.apis[0], autoID, 2*time.Minute)
	f := account(t, fmt.Sprintf("kill -9 ×%d at random moments, PostgreSQL, two nodes", chaosKills), k.apis[1], l, rc, records, runs)
	if f.lost > 0 {
		t.Errorf("%d records lost", f.lost)
	}
	if max := chaosKills * 16; f.duplicated > max {
		t.Errorf("%d requests sent again, more than the %d that can be in flight at %d kills", f.duplicated, max, chaosKills)
	}
}

// observer polls a node's /readyz and a web UI page while a fault comes and
// goes, and remembers what each answered when.
type observer struct {
	mu    sync.Mutex
	ready []sample
	ui    []sample
	stop  atomic.Bool
	wg    sync.WaitGroup
}

type sample struct {
	at     time.Time
	status int // 0: no answer
	body   string
}

// observe starts polling base: /readyz, and in the web UI (signed in with
// ui, whose forms carry csrf) saving a secret — a write, which a full disk
// refuses while pages that only read still show.
func observe(base string, ui *http.Client, csrf string) *observer {
	o := &observer{}
	poll := func(do func() (*http.Response, error), into *[]sample) {
		for !o.stop.Load() {
			s := sample{at: time.Now()}
			if res, err := do(); err == nil {
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				s.status, s.body = res.StatusCode, string(b)
			}
			o.mu.Lock()
			*into = append(*into, s)
			o.mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
	}
	ready := &http.Client{Timeout: 5 * time.Second}
	o.wg.Go(func() { poll(func() (*http.Response, error) { return ready.Get(base + "/readyz") }, &o.ready) })
	o.wg.Go(func() {
		poll(func() (*http.Response, error) {
			return ui.PostForm(base+"/settings/secrets", url.Values{"csrf": {csrf}, "name": {"CHAOS_PROBE"}, "value": {time.Now().String()}})
		}, &o.ui)
	})
	return o
}

func (o *observer) close() {
	o.stop.Store(true)
	o.wg.Wait()
}

// seen reports whether a sample taken between from and to satisfies ok.
func seen(samples []sample, from, to time.Time, ok func(sample) bool) bool {
	for _, s := range samples {
		if !s.at.Before(from) && !s.at.After(to) && ok(s) {
			return true
		}
	}
	return false
}

// outage is a window when the database was made unavailable.
type outage struct {
	name     string
	from, to time.Time
}

// checkOutages checks what the node answered during and after the outages:
// /readyz 503 during each, a web UI page that says the database is
// unavailable (503) during each, and both fine again at the end.
func (o *observer) checkOutages(t *testing.T, outages []outage) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, w := range outages {
		if !seen(o.ready, w.from, w.to, func(s sample) bool { return s.status == http.StatusServiceUnavailable }) {
			t.Errorf("%s: /readyz never answered 503 during the outage", w.name)
		}
		if !seen(o.ui, w.from, w.to, func(s sample) bool {
			return s.status == http.StatusServiceUnavailable && strings.Contains(s.body, "Database unavailable")
		}) {
			t.Errorf("%s: the web UI never showed its \"Database unavailable\" page during the outage", w.name)
		}
	}
	if n := len(o.ready); n == 0 || o.ready[n-1].status != http.StatusOK {
		t.Errorf("/readyz at the end: %+v, want 200", o.ready[max(n-1, 0):])
	}
	if n := len(o.ui); n == 0 || o.ui[n-1].status != http.StatusOK {
		t.Errorf("the web UI at the end: status %d, want 200", o.ui[max(n-1, 0)].status)
	}
	for _, s := range o.ui {
		if s.status == http.StatusInternalServerError {
			t.Errorf("the web UI answered 500 at %v: %.300s", s.at.Format(time.TimeOnly), s.body)
			break
		}
	}
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in to the web UI as admin and returns a client with the
// session, and the session's CSRF token.
func signIn(t *testing.T, base string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	res, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfInput.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf token on the sign-in page: %s", page)
	}
	res, err = c.PostForm(base+"/login", url.Values{"csrf": {string(m[1])}, "login": {"admin"}, "password": {chaosAdminPassword}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Request.URL.Path == "/login" {
		t.Fatalf("sign-in failed: ended on %s (%d)", res.Request.URL, res.StatusCode)
	}
	res, err = c.Get(base + "/settings/secrets")
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if m = csrfInput.FindSubmatch(page); m == nil {
		t.Fatalf("no csrf token on the secrets page: %s", page)
	}
	return c, string(m[1])
}

// TestChaosPostgresRestart: the node's PostgreSQL is restarted under load,
// once cleanly (pg_ctl restart -m fast) and once as after a crash (stopped
// with -m immediate, down for 3 s, crash recovery at start).
func TestChaosPostgresRestart(t *testing.T) {
	t.Parallel()
	pg := faulttest.StartPostgres(t)
	bin := autohookBinary(t)
	tmp := t.TempDir()
	rc := newCRMReceiver(t, "")
	p := serveOn(t, bin, tmp, "node", "127.0.0.1:0", []string{"AUTOHOOK_DATABASE_URL=" + pg.URL, "AUTOHOOK_ADMIN_PASSWORD=" + chaosAdminPassword},
		"--data-dir", filepath.Join(tmp, "data"), "--db-conns", "10")
	api := newAPI(p.base, opsAPIKey, 8)
	leadsCollection(t, api)
	autoID := savePushLeads(t, api, rc.URL+"/leads", nil)
	ui, csrf := signIn(t, p.base)
	o := observe(p.base, ui, csrf)
	l := startLoad(loadConfig{prefix: "lead", rate: 50, clients: 6, targets: func() []*servertest.Client { return []*servertest.Client{api} }})

	time.Sleep(4 * time.Second)
	fast := outage{name: "pg_ctl restart -m fast", from: time.Now()}
	pg.Restart(t, "fast")
	fast.to = time.Now()
	time.Sleep(4 * time.Second)
	crash := outage{name: "stopped -m immediate for 3 s, then crash recovery", from: time.Now()}
	pg.Stop(t, "immediate")
	time.Sleep(3 * time.Second)
	pg.Start(t)
	crash.to = time.Now()
	time.Sleep(5 * time.Second)
	l.stop()
	records, runs := settle(t, api, autoID, 2*time.Minute, func(t *testing.T) { logUnfinishedJobs(t, pg.URL) })
	time.Sleep(300 * time.Millisecond)
	o.close()
	t.Logf("outages: %s took %v; %s took %v", fast.name, fast.to.Sub(fast.from).Round(time.Millisecond), crash.name, crash.to.Sub(crash.from).Round(time.Millisecond))
	o.checkOutages(t, []outage{fast, crash})
	f := account(t, "PostgreSQL restarted (fast) and crashed (immediate, 3 s down) under 50 records/s", api, l, rc, records, runs)
	if f.lost > 0 {
		t.Errorf("%d records lost", f.lost)
	}
	if f.unavailable == 0 {
		t.Errorf("no API write was answered 503 during the outages: were they outages?")
	}
}

// TestChaosSQLiteDisk: the disk under the SQLite database fills up under
// load, and space comes back. (A file system cannot be remounted read-only
// while files are open on it for writing — mount answers EBUSY — so the
// other way a disk refuses writes is not played out here; SQLite's
// SQLITE_READONLY and SQLITE_IOERR are classified with SQLITE_FULL, see
// internal/store's TestClassify.)
func TestChaosSQLiteDisk(t *testing.T) {
	t.Parallel()
	disk := faulttest.MountDisk(t, 48<<20)
	bin := autohookBinary(t)
	tmp := t.TempDir()
	data := filepath.Join(disk.Dir, "data")
	rc := newCRMReceiver(t, "")
	p := serveOn(t, bin, tmp, "node", "127.0.0.1:0", []string{"AUTOHOOK_ADMIN_PASSWORD=" + chaosAdminPassword}, "--data-dir", data)
	api := newAPI(p.base, opsAPIKey, 8)
	leadsCollection(t, api)
	autoID := savePushLeads(t, api, rc.URL+"/leads", nil)
	ui, csrf := signIn(t, p.base)
	o := observe(p.base, ui, csrf)
	l := startLoad(loadConfig{prefix: "lead", rate: 50, clients: 6, targets: func() []*servertest.Client { return []*servertest.Client{api} }})

	time.Sleep(3 * time.Second)
	full := outage{name: "disk full for 5 s", from: time.Now()}
	filled := disk.Fill(t)
	time.Sleep(5 * time.Second)
	disk.Free(t)
	full.to = time.Now()
	time.Sleep(4 * time.Second)
	l.stop()
	records, runs := settle(t, api, autoID, 2*time.Minute)
	time.Sleep(300 * time.Millisecond)
	o.close()
	t.Logf("filled the disk with %d MB", filled>>20)
	o.checkOutages(t, []outage{full})
	f := account(t, "SQLite: disk full for 5 s under 50 records/s", api, l, rc, records, runs)
	if f.lost > 0 {
		t.Errorf("%d records lost", f.lost)
	}
	if f.unavailable == 0 {
		t.Errorf("no API write was answered 503 during the outages: were they outages?")
	}
	// Nothing half-written: the file passes SQLite's own check.
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(data, "autohook.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(context.Background(), "PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Errorf("integrity_check: %q, %v; want ok", res, err)
	}
}

// TestChaosNetwork: receivers behind links that lose, delay and reorder
// packets, drop everything, lose every answer, or reset connections, for a
// few seconds under load. Each fault has its own node, namespace and
// receiver; the retry schedule is shortened (1 s, 2 s, 3 s) so that retries
// fall inside and after the fault.
func TestChaosNetwork(t *testing.T) {
	t.Parallel()
	bin := autohookBinary(t)
	scenarios := []struct {
		name  string
		fault func(t *testing.T, n *faulttest.Netns, rc *crmReceiver)
		// the classes failed attempts may have, and one that must be seen
		classes []string
		must    string
	}{
		{"30% packet loss", func(t *testing.T, n *faulttest.Netns, _ *crmReceiver) { n.Loss(t, 30) }, []string{"timeout", "network"}, ""},
		{"delay", func(t *testing.T, n *faulttest.Netns, _ *crmReceiver) {
			n.Delay(t, 200*time.Millisecond, 100*time.Millisecond)
		}, []string{"timeout"}, ""},
		{"reordering", func(t *testing.T, n *faulttest.Netns, _ *crmReceiver) { n.Reorder(t) }, []string{"timeout"}, ""},
		{"blackhole", func(t *testing.T, n *faulttest.Netns, _ *crmReceiver) { n.Blackhole(t) }, []string{"timeout"}, "timeout"},
		{"answers lost", func(t *testing.T, n *faulttest.Netns, _ *crmReceiver) { n.DropAnswers(t) }, []string{"timeout"}, "timeout"},
		{"connections refused (TCP reset)", func(t *testing.T, n *faulttest.Netns, _ *crmReceiver) { n.Reset(t) }, []string{"network"}, "network"},
		{"receiver resets mid-request", func(t *testing.T, _ *faulttest.Netns, rc *crmReceiver) { rc.reset.Store(true) }, []string{"network"}, "network"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			n := faulttest.NewNetns(t)
			rc := newCRMReceiverOn(t, n.Listen(t), "")
			tmp := t.TempDir()
			p := serveOn(t, bin, tmp, "node", "127.0.0.1:0", nil, "--data-dir", filepath.Join(tmp, "data"), "--retry-schedule", "1s,2s,3s")
			api := newAPI(p.base, opsAPIKey, 4)
			leadsCollection(t, api)
			var auto struct{ ID string }
			api.Must(t, http.StatusCreated, "POST", "/api/v1/automations", pushLeadsWithTimeout(rc.URL+"/leads", 2), &auto)
			autoID := auto.ID
			l := startLoad(loadConfig{prefix: "lead", rate: 10, clients: 4, targets: func() []*servertest.Client { return []*servertest.Client{api} }})
			time.Sleep(2 * time.Second)
			sc.fault(t, n, rc)
			time.Sleep(6 * time.Second)
			n.Clear(t)
			rc.reset.Store(false)
			time.Sleep(3 * time.Second)
			l.stop()
			records, runs := settle(t, api, autoID, 90*time.Second)
			f := account(t, "network: "+sc.name+" for 6 s ("+n.Mode()+")", api, l, rc, records, runs)
			if f.lost > 0 {
				t.Errorf("%d records lost", f.lost)
			}
			for class := range f.classes {
				if !slices.Contains(sc.classes, class) {
					t.Errorf("failed attempts of class %s (%d), want only %v", class, f.classes[class], sc.classes)
				}
			}
			if sc.must != "" && f.classes[sc.must] == 0 {
				t.Errorf("no failed attempt of class %s: the fault did not bite (%v)", sc.must, f.classes)
			}
		})
	}
}

// pushLeadsWithTimeout is the push automation of savePushLeads with a step
// timeout, so that a blackholed request fails in seconds.
func pushLeadsWithTimeout(url string, seconds int) map[string]any {
	return map[string]any{
		"name": "Push leads", "collection": "leads",
		"trigger": map[string]any{"type": "record_added"},
		"steps": []map[string]any{
			{"id": "send", "type": "call_api", "method": "POST", "url": url, "timeoutSeconds": seconds,
				"body": map[string]any{"contentType": "application/json", "fields": []map[string]any{
					{"key": "recordId", "type": "string", "value": "{record.id}"},
					{"key": "name", "type": "string", "value": "{record.name}"},
				}},
				"response": map[string]any{"type": "json", "schema": []map[string]any{{"pointer": "/id", "field": "externalId", "required": true}}}},
			{"id": "save", "type": "update_record", "set": []map[string]any{{"field": "externalId", "value": "{fields.externalId}"}}},
		},
	}
}

// logUnfinishedJobs logs the queue's jobs that have not completed.
func logUnfinishedJobs(t *testing.T, dbURL string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Logf("river_job: %v", err)
		return
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT id, kind, state, attempt, scheduled_at, attempted_at, attempted_by, errors::text, args::text FROM river_job WHERE state <> 'completed' ORDER BY id`)
	if err != nil {
		t.Logf("river_job: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id          int64
			kind, state string
			attempt     int
			scheduled   time.Time
			attempted   *time.Time
			by          []string
			errs, args  *string
		)
		if err := rows.Scan(&id, &kind, &state, &attempt, &scheduled, &attempted, &by, &errs, &args); err != nil {
			t.Logf("river_job: %v", err)
			return
		}
		t.Logf("job %d %s %s attempt %d scheduled %v attempted %v by %v errors %.500v args %.300v", id, kind, state, attempt, scheduled, attempted, by, errs, args)
	}
}
