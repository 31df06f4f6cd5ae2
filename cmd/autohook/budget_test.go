package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/servertest"
)

// maxPeakRSS bounds the peak resident memory of a node that evaluates
// expressions over their budget: a few hundred MB, where the expression of
// issue 18 took gigabytes (OOM-killed at 5,000 repeats).
const maxPeakRSS = 400 << 20

// TestOverBudgetAutomationNeverCrashLoops drives the real binary with the
// finding of issue 18: a saved record_added automation whose header builds
// gigabytes. Records are created and the node is killed while their runs
// may still be queued; started again on the same data dir, it resumes
// them. Every run fails with class render naming the memory budget, the
// node stays up, and its peak memory stays within maxPeakRSS, before and
// after the restart.
func TestOverBudgetAutomationNeverCrashLoops(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped with -short")
	}
	tmp := t.TempDir()
	bin := autohookBinary(t)
	dataDir := filepath.Join(tmp, "data")
	rcv := servertest.NewReceiver(t, nil)
	start := func(name string) *proc {
		p := startProc(t, bin, tmp, name, crashEnv(), "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--rate-limit", "0", "--max-workers", "4")
		p.waitReady(t, crashReadyWait)
		return p
	}

	p1 := start("serve1")
	api := newAPI(p1.base, crashAPIKey, 4)
	api.Must(t, http.StatusCreated, "POST", "/api/v1/collections", map[string]any{
		"key": "leads", "name": "Leads", "fields": []map[string]any{{"key": "name", "type": "text"}},
	}, nil)
	var auto struct{ ID string }
	api.Must(t, http.StatusCreated, "POST", "/api/v1/automations", map[string]any{
		"name": "huge header", "collection": "leads", "enabled": true,
		"trigger": map[string]any{"type": "record_added"},
		"steps": []map[string]any{{
			"id": "send", "type": "call_api", "method": "POST", "url": rcv.URL + "/hook",
			"headers": []map[string]any{{"name": "X-Big", "value": `{len(map(1..5000, repeat("a", 1048576)))}`}},
		}},
	}, &auto)
	const records = 8
	for i := range records {
		api.Must(t, http.StatusCreated, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": fmt.Sprint(i)}}, nil)
	}
	peak1 := peakRSS(t, p1)
	if err := p1.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p1.wait(10 * time.Second)

	p2 := start("serve2")
	api = newAPI(p2.base, crashAPIKey, 4)
	waitFailedRuns(t, api, auto.ID, records)
	api.Must(t, http.StatusCreated, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "after"}}, nil)
	waitFailedRuns(t, api, auto.ID, records+1)
	if err := p2.wait(0); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("the node exited: %v", err)
	}
	peak2 := peakRSS(t, p2)
	t.Logf("peak RSS: %d MiB before the kill, %d MiB after the restart (bound %d MiB)", peak1>>20, peak2>>20, maxPeakRSS>>20)
	for _, peak := range []int64{peak1, peak2} {
		if peak > maxPeakRSS {
			t.Errorf("peak RSS %d MiB, want at most %d MiB", peak>>20, maxPeakRSS>>20)
		}
	}
	if n := rcv.Count(); n != 0 {
		t.Errorf("the receiver got %d requests, want none", n)
	}
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p2.wait(30 * time.Second); err != nil {
		t.Errorf("after SIGTERM: %v, want a clean exit", err)
	}
}

// overBudget matches a render failure over one of the budgets: memory, or
// on a busy machine (-race, a loaded CI runner) time or steps, whichever
// the evaluation reaches first.
var overBudget = regexp.MustCompile(`: over the (memory|step|time) budget: `)

// waitFailedRuns waits until the automation has n runs, all failed with
// class render over a budget.
func waitFailedRuns(t *testing.T, api *servertest.Client, automationID string, n int) {
	t.Helper()
	type run struct {
		ID     string
		Status string
		Error  *struct{ Class, Message string }
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		runs := listAll[run](t, api, "/api/v1/automations/"+automationID+"/runs")
		failed := 0
		for _, r := range runs {
			if r.Status != "failed" {
				continue
			}
			failed++
			if r.Error == nil || r.Error.Class != "render" || !overBudget.MatchString(r.Error.Message) {
				t.Fatalf("run %s failed with %+v, want class render over a budget", r.ID, r.Error)
			}
		}
		if len(runs) == n && failed == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d runs, %d failed, want %d failed", len(runs), failed, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// peakRSS reads a running process's peak resident set size (VmHWM).
func peakRSS(t *testing.T, p *proc) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("read the process status: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in the process status")
	return 0
}
