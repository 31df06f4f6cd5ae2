package metrics_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/metrics"
	"github.com/autohook/autohook/internal/retry"
)

// queue is a QueueCounter that answers with fixed counts or an error.
type queue struct {
	counts map[string]int
	paused int
	err    error
}

func (q queue) CountJobsByState(context.Context) (map[string]int, error) { return q.counts, q.err }
func (q queue) CountPausedAutomations(context.Context) (int, error)      { return q.paused, q.err }

// syncBuffer is a bytes.Buffer safe for the logger and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// scrape fetches the exposition text from m's handler through a real HTTP
// server and returns every sample as "name{labels}" -> value.
func scrape(t *testing.T, m *metrics.Metrics) map[string]string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics = %s, want 200 OK; body:\n%s", resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want the text format", ct)
	}
	samples := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("malformed sample line %q", line)
		}
		samples[line[:i]] = line[i+1:]
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read /metrics: %v", err)
	}
	return samples
}

// pick returns the samples named in want, so that a whole map compares.
func pick(samples map[string]string, want map[string]string) map[string]string {
	got := map[string]string{}
	for k := range want {
		if v, ok := samples[k]; ok {
			got[k] = v
		}
	}
	return got
}

func TestScrape(t *testing.T) {
	t.Parallel()
	q := queue{counts: map[string]int{"available": 7, "scheduled": 3, "running": 2, "retryable": 1, "completed": 99}, paused: 2}
	m := metrics.New(q, slog.New(slog.DiscardHandler))

	m.RunStarted()
	m.RunFinished(automation.StatusSucceeded)
	m.RunFinished(automation.StatusSucceeded)
	m.RunFinished(automation.StatusFailed)
	m.RunRetrying()
	m.RunRetrying()
	m.Attempt("", 20*time.Millisecond)             // ok, in the 0.025 bucket
	m.Attempt("", 3*time.Second)                   // ok, in the 5 bucket
	m.Attempt(retry.HTTP5xx, 200*time.Millisecond) // in the 0.25 bucket
	m.Attempt(retry.Timeout, 0)                    // counted, but no duration observed
	m.FirstRequest(4 * time.Millisecond)           // the 0.005 bucket
	m.FirstRequest(0)                              // the smallest bucket
	m.FirstRequest(-time.Second)                   // clock skew: not observed
	m.ConditionFalse("aut_1")
	m.ConditionFalse("aut_2")
	m.ConditionFalse("aut_1")
	m.RunFinished(automation.StatusSkipped)
	m.RunFailed(retry.HTTP4xx)
	m.RunFailed(retry.HTTP4xx)
	m.AutomationPaused()
	m.Alert("webhook", "sent")
	m.Alert("email", "failed")

	want := map[string]string{
		`autohook_runs_started_total`:                            "1",
		`autohook_runs_finished_total{status="succeeded"}`:       "2",
		`autohook_runs_finished_total{status="failed"}`:          "1",
		`autohook_runs_retry_scheduled_total`:                    "2",
		`autohook_attempts_total{class="ok"}`:                    "2",
		`autohook_attempts_total{class="http_5xx"}`:              "1",
		`autohook_attempts_total{class="timeout"}`:               "1",
		`autohook_request_duration_seconds_count`:                "3",
		`autohook_request_duration_seconds_bucket{le="0.01"}`:    "0",
		`autohook_request_duration_seconds_bucket{le="0.025"}`:   "1",
		`autohook_request_duration_seconds_bucket{le="0.25"}`:    "2",
		`autohook_request_duration_seconds_bucket{le="2.5"}`:     "2",
		`autohook_request_duration_seconds_bucket{le="5"}`:       "3",
		`autohook_request_duration_seconds_bucket{le="+Inf"}`:    "3",
		`autohook_trigger_to_request_seconds_count`:              "2",
		`autohook_trigger_to_request_seconds_bucket{le="0.001"}`: "1",
		`autohook_trigger_to_request_seconds_bucket{le="0.005"}`: "2",
		`autohook_trigger_to_request_seconds_bucket{le="+Inf"}`:  "2",
		`autohook_condition_false_total`:                         "3",
		`autohook_queue_jobs{state="available"}`:                 "7",
		`autohook_queue_jobs{state="scheduled"}`:                 "3",
		`autohook_queue_jobs{state="running"}`:                   "2",
		`autohook_queue_jobs{state="retryable"}`:                 "1",
		`autohook_runs_waiting_retry`:                            "3",
		`autohook_runs_finished_total{status="skipped"}`:         "1",
		`autohook_runs_failed_total{class="http_4xx"}`:           "2",
		`autohook_automation_pauses_total`:                       "1",
		`autohook_alerts_total{outcome="sent",type="webhook"}`:   "1",
		`autohook_alerts_total{outcome="failed",type="email"}`:   "1",
		`autohook_automations_paused`:                            "2",
	}
	samples := scrape(t, m)
	if diff := cmp.Diff(want, pick(samples, want)); diff != "" {
		t.Errorf("scraped samples mismatch (-want +got):\n%s", diff)
	}
	if sum, err := strconv.ParseFloat(samples["autohook_request_duration_seconds_sum"], 64); err != nil || math.Abs(sum-3.22) > 1e-9 {
		t.Errorf("autohook_request_duration_seconds_sum = %q, want 3.22 (0.02 + 3 + 0.2)", samples["autohook_request_duration_seconds_sum"])
	}
	if v, ok := samples[`autohook_queue_jobs{state="completed"}`]; ok {
		t.Errorf("autohook_queue_jobs{state=\"completed\"} = %s, want no such series (only the states waiting or in flight)", v)
	}
	// The Go and process collectors are registered too.
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := samples[name]; !ok {
			t.Errorf("no %s sample, want the Go and process collectors", name)
		}
	}
}

// TestScrapeFresh checks the series a fresh node exposes before anything
// happened: both finished statuses at zero, and zero queue states that the
// counter did not mention.
func TestScrapeFresh(t *testing.T) {
	t.Parallel()
	m := metrics.New(queue{counts: map[string]int{}}, slog.New(slog.DiscardHandler))
	want := map[string]string{
		`autohook_runs_started_total`:                      "0",
		`autohook_runs_finished_total{status="succeeded"}`: "0",
		`autohook_runs_finished_total{status="failed"}`:    "0",
		`autohook_runs_retry_scheduled_total`:              "0",
		`autohook_request_duration_seconds_count`:          "0",
		`autohook_trigger_to_request_seconds_count`:        "0",
		`autohook_condition_false_total`:                   "0",
		`autohook_queue_jobs{state="available"}`:           "0",
		`autohook_queue_jobs{state="scheduled"}`:           "0",
		`autohook_queue_jobs{state="running"}`:             "0",
		`autohook_queue_jobs{state="retryable"}`:           "0",
		`autohook_runs_waiting_retry`:                      "0",
	}
	if diff := cmp.Diff(want, pick(scrape(t, m), want)); diff != "" {
		t.Errorf("fresh samples mismatch (-want +got):\n%s", diff)
	}
}

// TestScrapeQueueCounterFails checks that a queue that cannot be counted
// leaves its series out, logs why, and does not break the scrape.
func TestScrapeQueueCounterFails(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	m := metrics.New(queue{err: errors.New("database is locked")}, log)
	m.RunStarted()

	samples := scrape(t, m)
	if got := samples["autohook_runs_started_total"]; got != "1" {
		t.Errorf("autohook_runs_started_total = %q, want 1", got)
	}
	for name := range samples {
		if strings.HasPrefix(name, "autohook_queue_jobs") || strings.HasPrefix(name, "autohook_runs_waiting_retry") {
			t.Errorf("sample %s present, want the queue series left out when counting fails", name)
		}
	}
	if got := logs.String(); !strings.Contains(got, "database is locked") {
		t.Errorf("log = %q, want the counting error", got)
	}
	// A second scrape works the same.
	if got := scrape(t, m)["autohook_runs_started_total"]; got != "1" {
		t.Errorf("second scrape: autohook_runs_started_total = %q, want 1", got)
	}
}

// TestNodesAreIndependent checks that two Metrics in one process do not
// share series (each has its own registry).
func TestNodesAreIndependent(t *testing.T) {
	t.Parallel()
	a := metrics.New(queue{counts: map[string]int{"available": 1}}, slog.New(slog.DiscardHandler))
	b := metrics.New(queue{counts: map[string]int{"available": 2}}, slog.New(slog.DiscardHandler))
	a.RunStarted()
	a.RunStarted()
	b.RunStarted()
	got := []string{
		scrape(t, a)["autohook_runs_started_total"], scrape(t, a)[`autohook_queue_jobs{state="available"}`],
		scrape(t, b)["autohook_runs_started_total"], scrape(t, b)[`autohook_queue_jobs{state="available"}`],
	}
	if want := []string{"2", "1", "1", "2"}; !cmp.Equal(got, want) {
		t.Errorf("started, available of a then b = %v, want %v", got, want)
	}
}

// TestConcurrentUse records from many goroutines while scraping: the
// engine calls these methods from every worker.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	m := metrics.New(queue{counts: map[string]int{}}, slog.New(slog.DiscardHandler))
	const goroutines, each = 8, 100
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				m.RunStarted()
				m.Attempt("", time.Millisecond)
				m.RunFinished(automation.StatusSucceeded)
			}
		})
	}
	scrape(t, m)
	wg.Wait()
	want := map[string]string{
		`autohook_runs_started_total`:                      "800",
		`autohook_attempts_total{class="ok"}`:              "800",
		`autohook_runs_finished_total{status="succeeded"}`: "800",
		`autohook_request_duration_seconds_count`:          "800",
	}
	if diff := cmp.Diff(want, pick(scrape(t, m), want)); diff != "" {
		t.Errorf("samples mismatch (-want +got):\n%s", diff)
	}
}
