package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
)

// TestStartStopUnderLoad starts and stops a node 50 times on one data dir
// (and one database) while records are being created and their runs are
// in flight: every other stop gives the jobs time to finish, the others
// cut them short. Afterwards no goroutine of any node is left, nothing
// panicked, nothing logged that the database was closed under it, and no
// run was lost: every record the API said it created has exactly one run,
// finished (those cut short were resumed by a later start).
func TestStartStopUnderLoad(t *testing.T) {
	// Not parallel: the goroutine check counts the whole process's.
	const starts = 50
	t.Run("sqlite", func(t *testing.T) { testStartStopUnderLoad(t, starts, func(*server.Config) {}) })
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.NewDatabase(t)
		testStartStopUnderLoad(t, starts, func(c *server.Config) { c.DatabaseURL = url })
	})
}

func testStartStopUnderLoad(t *testing.T, starts int, db func(*server.Config)) {
	rc := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(15 * time.Millisecond) // so that runs are in flight when the node stops
		w.WriteHeader(http.StatusNoContent)
	})
	dir := t.TempDir()
	logs := &logCheck{}
	start := func(t *testing.T) *servertest.Node {
		t.Helper()
		n, err := server.Start(context.Background(), servertest.NodeConfig(t, db, func(c *server.Config) {
			c.DataDir = dir
			c.Logger = slog.New(logs)
		}))
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		return &servertest.Node{Client: servertest.NewClient(t, n, servertest.AdminKey), Server: n}
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	nd := start(t)
	nd.Must(t, 201, "POST", "/api/v1/collections", leads, nil)
	var auto map[string]any
	nd.Must(t, 201, "POST", "/api/v1/automations", map[string]any{
		"name": "deliver", "collection": "leads", "trigger": map[string]any{"type": "record_added"},
		"steps": []any{map[string]any{"type": "call_api", "url": rc.URL + "/{record.id}"}},
	}, &auto)
	autoID := auto["id"].(string)

	var (
		mu        sync.Mutex
		committed []string // records the API answered 201 for
	)
	const creators, perCreator = 3, 6
	for i := range starts {
		// A stop that hangs shows where: every goroutine's stack.
		watchdog := time.AfterFunc(2*time.Minute, func() {
			buf := make([]byte, 8<<20)
			panic(fmt.Sprintf("start %d: still starting, loading or stopping after 2 min; goroutines:\n%s", i, buf[:runtime.Stack(buf, true)]))
		})
		if i > 0 {
			nd = start(t)
		}
		before := rc.Count()
		var wg sync.WaitGroup
		for range creators {
			wg.Go(func() {
				for range perCreator {
					a, err := nd.Send(context.Background(), "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "n"}})
					if err != nil || a.Status != http.StatusCreated {
						return // the node is stopping
					}
					var rec struct{ ID string }
					if err := json.Unmarshal(a.Body, &rec); err != nil || rec.ID == "" {
						t.Errorf("a created record: %q: %v", a.Body, err)
						return
					}
					mu.Lock()
					committed = append(committed, rec.ID)
					mu.Unlock()
				}
			})
		}
		// Stop once runs are in flight, while records are still being
		// created.
		for deadline := time.Now().Add(servertest.WaitLimit); rc.Count() < before+2; {
			if time.Now().After(deadline) {
				t.Fatalf("start %d: no run reached the receiver", i)
			}
			time.Sleep(2 * time.Millisecond)
		}
		limit := 10 * time.Second // the jobs in flight finish
		if i%2 == 1 {
			limit = time.Millisecond // they are cut short, and resumed by the next start
		}
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		err := nd.Server.Shutdown(ctx)
		cancel()
		if err != nil && limit > time.Millisecond {
			t.Errorf("start %d: shutdown: %v", i, err)
		}
		wg.Wait()
		nd.HTTP.CloseIdleConnections()
		watchdog.Stop()
	}

	// A last start resumes what the previous stops cut short.
	nd = start(t)
	servertest.WaitIdle(t, nd.Server)
	runs := allRuns(t, &nd.Client, autoID)
	byRecord := map[string]int{}
	for _, r := range runs {
		byRecord[r.RecordID]++
		if r.Status != "succeeded" {
			t.Errorf("run %s of record %s: %s, want succeeded", r.ID, r.RecordID, r.Status)
		}
	}
	for _, id := range committed {
		if byRecord[id] != 1 {
			t.Errorf("record %s (created, 201) has %d runs, want 1", id, byRecord[id])
		}
	}
	if err := nd.Server.Shutdown(context.Background()); err != nil {
		t.Errorf("last shutdown: %v", err)
	}
	nd.HTTP.CloseIdleConnections()
	t.Logf("%d starts: %d records created, %d runs, %d requests received", starts+1, len(committed), len(runs), rc.Count())
	if len(committed) < starts {
		t.Errorf("only %d records were created in %d starts: the nodes were not loaded", len(committed), starts)
	}
	for _, line := range logs.bad() {
		t.Errorf("logged: %s", line)
	}
}

type lifeRun struct {
	ID, RecordID, Status string
}

// allRuns lists every run of an automation, page by page.
func allRuns(t *testing.T, c *servertest.Client, automationID string) []lifeRun {
	t.Helper()
	var out []lifeRun
	cursor := ""
	for {
		var page struct {
			Items      []lifeRun
			NextCursor string
		}
		c.Must(t, 200, "GET", "/api/v1/automations/"+automationID+"/runs?limit=500&cursor="+url.QueryEscape(cursor), nil, &page)
		out = append(out, page.Items...)
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

// logCheck is a log handler that keeps the lines a clean stop must not
// log: a closed database under a user, a panic.
type logCheck struct {
	mu    sync.Mutex
	lines []string
}

func (h *logCheck) Enabled(context.Context, slog.Level) bool { return true }

func (h *logCheck) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s", a)
		return true
	})
	line := b.String()
	if low := strings.ToLower(line); strings.Contains(low, "database is closed") || strings.Contains(low, "closed pool") || strings.Contains(low, "panic") {
		h.mu.Lock()
		h.lines = append(h.lines, line)
		h.mu.Unlock()
	}
	return nil
}

func (h *logCheck) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logCheckWith{root: h, attrs: attrs}
}

func (h *logCheck) WithGroup(string) slog.Handler { return h }

func (h *logCheck) bad() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.lines...)
}

// logCheckWith is the root handler with attributes (Logger.With).
type logCheckWith struct {
	root  *logCheck
	attrs []slog.Attr
}

func (h *logCheckWith) Enabled(context.Context, slog.Level) bool { return true }

func (h *logCheckWith) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	return h.root.Handle(ctx, r)
}

func (h *logCheckWith) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logCheckWith{root: h.root, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h *logCheckWith) WithGroup(string) slog.Handler { return h }
