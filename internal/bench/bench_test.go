package bench_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/bench"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	oneToTwenty := make([]float64, 20)
	for i := range oneToTwenty {
		oneToTwenty[i] = float64(i + 1)
	}
	reversed := slices.Clone(oneToTwenty)
	slices.Reverse(reversed)
	tests := []struct {
		name   string
		values []float64
		p      float64
		want   float64
	}{
		{"empty", nil, 50, 0},
		{"empty p100", []float64{}, 100, 0},
		{"one value p0", []float64{7}, 0, 7},
		{"one value p50", []float64{7}, 50, 7},
		{"one value p99", []float64{7}, 99, 7},
		{"one value p100", []float64{7}, 100, 7},
		{"p0 is the minimum", oneToTwenty, 0, 1},
		{"negative p is the minimum", oneToTwenty, -5, 1},
		{"p50", oneToTwenty, 50, 10},
		{"p95", oneToTwenty, 95, 19},
		{"p99", oneToTwenty, 99, 20},
		{"p100 is the maximum", oneToTwenty, 100, 20},
		{"p above 100 is the maximum", oneToTwenty, 150, 20},
		{"tiny p is the first rank", oneToTwenty, 0.1, 1},
		{"unsorted p50", []float64{9, 1, 5, 3, 7}, 50, 5},
		{"unsorted p0", []float64{9, 1, 5, 3, 7}, 0, 1},
		{"unsorted p100", []float64{9, 1, 5, 3, 7}, 100, 9},
		{"reversed p95", reversed, 95, 19},
		{"duplicates p50", []float64{2, 2, 2, 8, 8}, 50, 2},
		{"duplicates p60", []float64{2, 2, 2, 8, 8}, 60, 2},
		{"duplicates p61", []float64{2, 2, 2, 8, 8}, 61, 8},
		{"duplicates p100", []float64{2, 2, 2, 8, 8}, 100, 8},
		{"all equal", []float64{4, 4, 4, 4}, 95, 4},
		{"two values p50", []float64{10, 20}, 50, 10},
		{"two values p51", []float64{20, 10}, 51, 20},
		{"fractions", []float64{0.25, 0.5, 0.125, 1.5}, 75, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			values := slices.Clone(tt.values)
			if got := bench.Percentile(values, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.values, tt.p, got, tt.want)
			}
		})
	}
}

// TestPercentileSortsInPlace checks the documented side effect: values ends
// up sorted.
func TestPercentileSortsInPlace(t *testing.T) {
	t.Parallel()
	values := []float64{3, 1, 2}
	bench.Percentile(values, 50)
	if want := []float64{1, 2, 3}; !slices.Equal(values, want) {
		t.Errorf("values after Percentile = %v, want %v", values, want)
	}
}

// TestPercentileExactRank checks nearest rank where p·n/100 is a whole
// number: the rank is exactly that number.
func TestPercentileExactRank(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n    int
		p    float64
		want float64
	}{
		{100, 7, 7},
		{25, 28, 7},
		{50, 14, 7},
		{50, 56, 28},
		{75, 68, 51},
	} {
		values := make([]float64, tc.n)
		for i := range values {
			values[i] = float64(i + 1)
		}
		if got := bench.Percentile(values, tc.p); got != tc.want {
			t.Errorf("Percentile(1..%d, %v) = %v, want %v", tc.n, tc.p, got, tc.want)
		}
	}
}

func TestBaseline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		n, concurrency int
	}{
		{"more requests than workers", 50, 4},
		{"fewer requests than workers", 3, 10},
		{"one request", 1, 1},
		{"equal", 8, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var count atomic.Int64
			var badMethod, badType atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				count.Add(1)
				if r.Method != http.MethodPost {
					badMethod.Add(1)
				}
				if r.Header.Get("Content-Type") != "application/json" {
					badType.Add(1)
				}
				w.Write([]byte(`{"ok":true}`))
			}))
			t.Cleanup(srv.Close)

			rate, err := bench.Baseline(t.Context(), srv.URL+"/baseline", tt.n, tt.concurrency)
			if err != nil {
				t.Fatalf("Baseline: %v", err)
			}
			if got := count.Load(); got != int64(tt.n) {
				t.Errorf("requests received = %d, want %d", got, tt.n)
			}
			if rate <= 0 {
				t.Errorf("rate = %v, want > 0", rate)
			}
			if n := badMethod.Load(); n != 0 {
				t.Errorf("%d requests were not POST", n)
			}
			if n := badType.Load(); n != 0 {
				t.Errorf("%d requests had no JSON content type", n)
			}
		})
	}
}

func TestBaselineServerDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/baseline"
	ln.Close()

	rate, err := bench.Baseline(t.Context(), url, 10, 2)
	if err == nil {
		t.Fatalf("Baseline against a closed port = %v, nil; want an error", rate)
	}
	if rate != 0 {
		t.Errorf("rate with an error = %v, want 0", rate)
	}
	if !strings.Contains(err.Error(), "baseline") {
		t.Errorf("error = %q, want it to say baseline", err)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// checkResult checks what every correct run reports, whatever the speed.
func checkResult(t *testing.T, r *bench.Result, records int) {
	t.Helper()
	if r.Records != records {
		t.Errorf("Records = %d, want %d", r.Records, records)
	}
	if r.Failed != 0 {
		t.Errorf("Failed = %d, want 0", r.Failed)
	}
	if r.Database != "sqlite" && r.Database != "postgres" || (r.Database == "postgres") != (r.RoundTripsPerRun > 0) {
		t.Errorf("Database = %q with %v round trips per run; want sqlite with none or postgres with some", r.Database, r.RoundTripsPerRun)
	}
	if r.RunsPerSecond <= 0 {
		t.Errorf("RunsPerSecond = %v, want > 0", r.RunsPerSecond)
	}
	if r.Seconds <= 0 || r.CreateSeconds <= 0 || r.CreateSeconds > r.Seconds {
		t.Errorf("Seconds = %v, CreateSeconds = %v; want 0 < CreateSeconds <= Seconds", r.Seconds, r.CreateSeconds)
	}
	l := r.LatencyMs
	if !(0 <= l.P50 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("LatencyMs = %+v, want 0 <= p50 <= p95 <= p99 <= max", l)
	}
	if r.BaselineRequestsPerSecond <= 0 {
		t.Errorf("BaselineRequestsPerSecond = %v, want > 0", r.BaselineRequestsPerSecond)
	}
	if r.BaselineConcurrency <= 0 {
		t.Errorf("BaselineConcurrency = %d, want > 0", r.BaselineConcurrency)
	}
	if want := r.RunsPerSecond / r.BaselineRequestsPerSecond; r.Ratio != want {
		t.Errorf("Ratio = %v, want RunsPerSecond/BaselineRequestsPerSecond = %v", r.Ratio, want)
	}
	if r.PeakRSSBytes <= 0 {
		t.Errorf("PeakRSSBytes = %d, want > 0", r.PeakRSSBytes)
	}
	if r.StatementsPerRun <= 0 || r.BytesPerRun <= 0 || r.CPUMsPerRun <= 0 {
		t.Errorf("per-run costs: statements %v, bytes %v, CPU ms %v; want each > 0", r.StatementsPerRun, r.BytesPerRun, r.CPUMsPerRun)
	}
	if r.CPUs <= 0 || r.GoVersion == "" || r.Started.IsZero() {
		t.Errorf("CPUs = %d, GoVersion = %q, Started = %v; want them set", r.CPUs, r.GoVersion, r.Started)
	}
}

// checkStatements checks a result of a bench counting its statements by
// text: each run inserts one run row, most frequent first, and the texts
// add up to the statements per run (less the rare ones left out).
func checkStatements(t *testing.T, r *bench.Result) {
	t.Helper()
	var sum, runs float64
	for i, c := range r.Statements {
		sum += c.PerRun
		if strings.HasPrefix(c.SQL, "INSERT INTO runs ") {
			runs += c.PerRun
		}
		if i > 0 && c.PerRun > r.Statements[i-1].PerRun {
			t.Errorf("Statements not most frequent first: %v after %v", c, r.Statements[i-1])
		}
	}
	if runs != 1 {
		t.Errorf("INSERT INTO runs per run = %v, want 1 (statements: %+v)", runs, r.Statements)
	}
	if sum > r.StatementsPerRun+1e-9 || sum < r.StatementsPerRun*0.8 {
		t.Errorf("statements by text add up to %v per run, counted %v", sum, r.StatementsPerRun)
	}
}

func runOne(t *testing.T, cfg bench.Config) (*bench.Result, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	start := time.Now()
	results, err := bench.Run(ctx, cfg)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(results) != 1 {
		t.Fatalf("Run returned %d results, want 1", len(results))
	}
	return results[0], took
}

func TestRunPaced(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole node")
	}
	t.Parallel()
	const records, rate = 300, 200.0
	r, took := runOne(t, bench.Config{Records: records, Rate: rate, Creators: 8, Runs: 1, Logger: discard()})

	minimum := time.Duration(float64(records-1) / rate * float64(time.Second))
	if took < minimum {
		t.Errorf("Run took %v, want at least %v: pacing at %v/s does not pace", took, minimum, rate)
	}
	if got := time.Duration(r.CreateSeconds * float64(time.Second)); got < minimum {
		t.Errorf("CreateSeconds = %v, want at least %v", got, minimum)
	}
	if r.Mode != "paced" || r.Rate != rate {
		t.Errorf("Mode, Rate = %q, %v; want paced, %v", r.Mode, r.Rate, rate)
	}
	if !r.Verified {
		t.Error("Verified = false, want every record to hold its extracted value")
	}
	checkResult(t, r, records)
}

func TestRunBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole node")
	}
	t.Parallel()
	const records = 400
	r, _ := runOne(t, bench.Config{Records: records, Creators: 8, Runs: 1, Statements: true, Logger: discard()})
	checkStatements(t, r)
	if r.Mode != "burst" || r.Rate != 0 {
		t.Errorf("Mode, Rate = %q, %v; want burst, 0", r.Mode, r.Rate)
	}
	if !r.Verified {
		t.Error("Verified = false, want every record to hold its extracted value")
	}
	checkResult(t, r, records)
}

// TestRunStall runs the fairness scenario: half the runs go to a receiver
// that holds every request; the runs to the healthy receiver must not wait
// for it. It is deliberately not parallel: it runs alone, before the
// parallel tests of its package.
func TestRunStall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole node")
	}
	const records, stall = 200, time.Second
	r, _ := runOne(t, bench.Config{Records: records, Rate: 200, Creators: 8, Runs: 1, Stall: stall, Logger: discard()})
	if !strings.Contains(r.Mode, "stall") {
		t.Errorf("Mode = %q, want it to contain stall", r.Mode)
	}
	if r.StallMs != float64(stall.Milliseconds()) {
		t.Errorf("StallMs = %v, want %v", r.StallMs, stall.Milliseconds())
	}
	if r.SlowDelivered <= 0 {
		t.Errorf("SlowDelivered = %d, want > 0: the slow receiver got no request", r.SlowDelivered)
	}
	// Starved runs would wait a stall each; the median, not the tail, is
	// checked: other packages' tests share the machine and move the tail,
	// and a speed figure is the benchmark's to report, not a test's to hold.
	if r.LatencyMs.P50 >= float64(stall.Milliseconds()) {
		t.Errorf("healthy latency p50 = %vms, want under the stall of %v", r.LatencyMs.P50, stall)
	}
	if r.Failed != 0 {
		t.Errorf("Failed = %d, want 0", r.Failed)
	}
	l := r.LatencyMs
	if !(0 <= l.P50 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("LatencyMs = %+v, want 0 <= p50 <= p95 <= p99 <= max", l)
	}
	if r.RunsPerSecond <= 0 || r.BaselineRequestsPerSecond <= 0 {
		t.Errorf("RunsPerSecond = %v, BaselineRequestsPerSecond = %v; want both > 0", r.RunsPerSecond, r.BaselineRequestsPerSecond)
	}
}

// TestRunPostgres is the bench's smoke test on PostgreSQL (skipped without
// AUTOHOOK_TEST_DATABASE_URL): one node measured twice in one process (each
// measurement in a schema of its own), then two nodes sharing the database.
// No speed is asserted: that every run finished, was verified, and the
// per-run costs and per-node shares were reported.
func TestRunPostgres(t *testing.T) {
	url := os.Getenv("AUTOHOOK_TEST_DATABASE_URL")
	if url == "" || testing.Short() {
		t.Skip("needs AUTOHOOK_TEST_DATABASE_URL; starts whole nodes")
	}
	const records = 200
	for _, tc := range []struct {
		name        string
		nodes, runs int
	}{{"one node twice", 1, 2}, {"two nodes", 2, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			results, err := bench.Run(ctx, bench.Config{Records: records, Creators: 8, Runs: tc.runs, Nodes: tc.nodes, DatabaseURL: url, Statements: true, Logger: discard()})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if len(results) != tc.runs {
				t.Fatalf("Run returned %d results, want %d", len(results), tc.runs)
			}
			for _, r := range results {
				if r.Database != "postgres" || r.Nodes != tc.nodes || !r.Verified {
					t.Errorf("Database %q, Nodes %d, Verified %v; want postgres, %d, true", r.Database, r.Nodes, r.Verified, tc.nodes)
				}
				checkResult(t, r, records)
				checkStatements(t, r)
				if r.RoundTripsPerRun <= 0 || r.RoundTripsPerRun > r.StatementsPerRun {
					t.Errorf("RoundTripsPerRun = %v (statements %v), want > 0 and at most one per statement", r.RoundTripsPerRun, r.StatementsPerRun)
				}
				if tc.nodes == 1 {
					continue
				}
				total := 0
				for _, n := range r.PerNode {
					total += n.Runs
				}
				if len(r.PerNode) != tc.nodes || total != records {
					t.Errorf("PerNode = %+v, want %d nodes finishing %d runs in all", r.PerNode, tc.nodes, records)
				}
			}
		})
	}
}

func TestRunNodesNeedPostgres(t *testing.T) {
	t.Parallel()
	if _, err := bench.Run(t.Context(), bench.Config{Records: 10, Nodes: 2}); err == nil {
		t.Error("Run with two nodes on SQLite: no error, want one naming --database")
	}
}
