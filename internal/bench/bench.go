// Package bench provides `autohook bench`: it measures the engine end to end
// in one process — records created through the same operation as the API,
// runs worked by the real queue and engine, requests delivered to a loopback
// sink, the extracted value written back — and compares the throughput with
// a bare net/http client sending the same number of requests to the same
// sink at the same concurrency.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/service"
	"github.com/autohook/autohook/internal/store"
)

// Config configures a bench run.
type Config struct {
	Records     int     // how many records (runs); default 20,000
	Rate        float64 // records per second; 0 creates them all at once (burst)
	DatabaseURL string  // "" = a temporary SQLite database
	Creators    int     // goroutines creating records in a burst (concurrent API clients); default 64
	MaxWorkers  int     // the engine's workers; default the server's (500)
	Runs        int     // repeat the measurement in one process; default 1
	// Nodes, on PostgreSQL, starts this many nodes in the process on one
	// database; records are created across them (default 1).
	Nodes int
	// Stall, when positive, runs the fairness scenario: every other record
	// goes to a second receiver that holds each request this long; the
	// latency reported is that of the runs to the healthy receiver.
	Stall time.Duration
	// Statements counts the statements by text, for Result.Statements:
	// where a run's statements go.
	Statements bool
	Progress   io.Writer
	Logger     *slog.Logger
}

// Result is one measurement.
type Result struct {
	Records                   int     `json:"records"`
	Mode                      string  `json:"mode"` // burst or paced
	Rate                      float64 `json:"rate,omitempty"`
	Database                  string  `json:"database"`
	Seconds                   float64 `json:"seconds"`
	CreateSeconds             float64 `json:"createSeconds"` // of which creating the records
	RunsPerSecond             float64 `json:"runsPerSecond"`
	LatencyMs                 Latency `json:"latencyMs"`
	BaselineRequestsPerSecond float64 `json:"baselineRequestsPerSecond"`
	BaselineConcurrency       int     `json:"baselineConcurrency"`
	Ratio                     float64 `json:"ratio"`
	PeakRSSBytes              int64   `json:"peakRSSBytes"`
	RSSAfterBytes             int64   `json:"rssAfterBytes"`
	HeapAfterBytes            uint64  `json:"heapAfterBytes"` // live heap after the run and a GC
	GoroutinesAfter           int     `json:"goroutinesAfter"`
	Failed                    int     `json:"failed"`
	// Per-run costs: the work the burst asked of the database and the
	// process, divided by the runs (see store.Stats for what is counted).
	StatementsPerRun float64 `json:"statementsPerRun"`
	RoundTripsPerRun float64 `json:"roundTripsPerRun,omitempty"` // PostgreSQL
	BytesPerRun      float64 `json:"bytesPerRun"`                // database growth over the burst
	CPUMsPerRun      float64 `json:"cpuMsPerRun"`                // this process's CPU time (not PostgreSQL's)
	// Statements, with Config.Statements: each statement text and how
	// often per run the burst sent it, most frequent first.
	Statements []StatementCost `json:"statements,omitempty"`
	// Nodes and PerNode: with --nodes, each node's share of the runs.
	Nodes         int          `json:"nodes"`
	PerNode       []NodeResult `json:"perNode,omitempty"`
	StallMs       float64      `json:"stallMs,omitempty"`       // fairness scenario: how long the slow receiver holds a request
	SlowDelivered int          `json:"slowDelivered,omitempty"` // requests the slow receiver had got when the healthy runs were done
	Verified      bool         `json:"verified"`                // every record holds the extracted value
	CPUs          int          `json:"cpus"`
	GoVersion     string       `json:"goVersion"`
	Started       time.Time    `json:"started"`
}

// NodeResult is one node's share of a multi-node bench.
type NodeResult struct {
	Runs          int     `json:"runs"` // runs this node's workers finished
	RunsPerSecond float64 `json:"runsPerSecond"`
}

// Latency holds latency percentiles in milliseconds, from a record's commit
// to the sink receiving its request.
type Latency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Run runs cfg.Runs measurements and returns one result each.
func Run(ctx context.Context, cfg Config) ([]*Result, error) {
	if cfg.Records <= 0 {
		cfg.Records = 20000
	}
	if cfg.Creators <= 0 {
		cfg.Creators = 64
	}
	if cfg.Runs <= 0 {
		cfg.Runs = 1
	}
	if cfg.Nodes <= 0 {
		cfg.Nodes = 1
	}
	if cfg.Nodes > 1 && cfg.DatabaseURL == "" {
		return nil, errors.New("bench: several nodes need a shared PostgreSQL database (--database)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	var out []*Result
	for i := 0; i < cfg.Runs; i++ {
		r, err := runOnce(ctx, cfg)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// counter observes the engine: it counts finished runs.
type counter struct {
	succeeded, failed atomic.Int64
	done              chan struct{}
	target            int64
	once              sync.Once
}

// nodeCounter counts one node's finished runs into its own count and the
// bench's.
type nodeCounter struct {
	*counter
	finished atomic.Int64
}

func (c *nodeCounter) RunFinished(s automation.Status) {
	c.finished.Add(1)
	c.counter.RunFinished(s)
}

func (c *counter) RunStarted()           {}
func (c *counter) RunRetrying()          {}
func (c *counter) RunFailed(retry.Class) {}
func (c *counter) AutomationPaused()     {}
func (c *counter) RunFinished(s automation.Status) {
	var n int64
	if s == automation.StatusSucceeded {
		n = c.succeeded.Add(1) + c.failed.Load()
	} else {
		n = c.failed.Add(1) + c.succeeded.Load()
	}
	if n >= c.target {
		c.once.Do(func() { close(c.done) })
	}
}
func (c *counter) Attempt(retry.Class, time.Duration) {}
func (c *counter) FirstRequest(time.Duration)         {}

func runOnce(ctx context.Context, cfg Config) (*Result, error) {
	resetPeakRSS()
	res := &Result{Records: cfg.Records, Mode: "burst", CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Started: time.Now().UTC()}
	if cfg.Rate > 0 {
		res.Mode, res.Rate = "paced", cfg.Rate
	}
	sk, err := newSink("127.0.0.1", cfg.Records, 0)
	if err != nil {
		return nil, err
	}
	defer sk.close()
	sinks := []*sink{sk}
	if cfg.Stall > 0 {
		res.Mode, res.StallMs = res.Mode+"+stall", float64(cfg.Stall.Milliseconds())
		// The slow receiver is another host (127.0.0.2, loopback too): the
		// per-destination limit counts a host across its ports, and the
		// scenario is a stalled destination beside a healthy one.
		slow, err := newSink("127.0.0.2", cfg.Records, cfg.Stall)
		if err != nil {
			return nil, err
		}
		defer slow.close()
		sinks = append(sinks, slow)
	}

	obs := &counter{done: make(chan struct{}), target: int64(cfg.Records)}
	dbURL := cfg.DatabaseURL
	if dbURL != "" {
		// Each measurement gets a schema of its own, dropped after it: the
		// database stays empty, and --runs works on PostgreSQL too.
		schemaURL, drop, err := scratchSchema(ctx, dbURL)
		if err != nil {
			return nil, err
		}
		defer drop()
		dbURL = schemaURL
	}
	secretKey := make([]byte, 32)
	rand.Read(secretKey)
	apiKey := "ahk_bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	nodes := make([]*server.Node, 0, cfg.Nodes)
	counts := make([]*nodeCounter, 0, cfg.Nodes)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, n := range nodes {
			n.Shutdown(sctx)
		}
	}()
	for range cfg.Nodes {
		dir, err := os.MkdirTemp("", "autohook-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		nc := &nodeCounter{counter: obs}
		n, err := server.Start(ctx, server.Config{
			DataDir: dir, DatabaseURL: dbURL, Listen: "127.0.0.1:0", SecretKey: hex.EncodeToString(secretKey),
			AllowPrivateNetworks: true, MaxWorkers: cfg.MaxWorkers, Logger: cfg.Logger, Out: io.Discard,
			Observer: nc, BootstrapAPIKey: apiKey, AdminPassword: "bench-password",
		})
		if err != nil {
			return nil, err
		}
		nodes, counts = append(nodes, n), append(counts, nc)
	}
	n := nodes[0]
	res.Database, res.Nodes = n.Store.Kind(), cfg.Nodes
	orgID, err := setup(ctx, n.Service, n.Store)
	if err != nil {
		return nil, err
	}
	services := make([]*service.Service, len(nodes))
	for i, n := range nodes {
		services[i] = n.Service
	}
	if cfg.Statements {
		for _, n := range nodes {
			n.Store.CountStatementTexts()
		}
	}
	cost0, err := measureCosts(ctx, nodes)
	if err != nil {
		return nil, err
	}

	commits := make([]time.Time, cfg.Records)
	ids := make([]string, cfg.Records)
	stopProgress := progress(cfg.Progress, obs, cfg.Records)
	start := time.Now()
	if err := create(ctx, cfg, services, orgID, sinks, commits, ids); err != nil {
		stopProgress()
		return nil, err
	}
	res.CreateSeconds = time.Since(start).Seconds()
	healthy := cfg.Records
	if cfg.Stall > 0 {
		healthy = (cfg.Records + 1) / 2
	}
	if err := waitDone(ctx, cfg, obs, sk, healthy); err != nil {
		stopProgress()
		return nil, err
	}
	elapsed := time.Since(start)
	stopProgress()
	res.Seconds = elapsed.Seconds()
	res.RunsPerSecond = float64(healthy) / elapsed.Seconds()
	res.Failed = int(obs.failed.Load())
	if cfg.Stall > 0 {
		res.SlowDelivered = sinks[1].count()
	}
	cost1, err := measureCosts(ctx, nodes)
	if err != nil {
		return nil, err
	}
	res.perRun(cost0, cost1, healthy)
	for _, c := range counts {
		f := int(c.finished.Load())
		res.PerNode = append(res.PerNode, NodeResult{Runs: f, RunsPerSecond: float64(f) / elapsed.Seconds()})
	}
	if cfg.Nodes == 1 {
		res.PerNode = nil
	}

	lat := make([]float64, 0, cfg.Records)
	for i, id := range ids {
		if at, ok := sk.arrival(id); ok {
			d := at.Sub(commits[i])
			lat = append(lat, max(0, float64(d.Microseconds())/1000))
		}
	}
	res.LatencyMs = Latency{P50: Percentile(lat, 50), P95: Percentile(lat, 95), P99: Percentile(lat, 99), Max: Percentile(lat, 100)}
	if cfg.Stall == 0 {
		if res.Verified, err = verify(ctx, n.Store, orgID, cfg.Records); err != nil {
			return nil, err
		}
	}

	workers := cfg.MaxWorkers
	if workers <= 0 {
		workers = 500
	}
	res.BaselineConcurrency = workers
	res.BaselineRequestsPerSecond, err = Baseline(ctx, sk.url+"/baseline", cfg.Records, workers)
	if err != nil {
		return nil, err
	}
	if res.BaselineRequestsPerSecond > 0 {
		res.Ratio = res.RunsPerSecond / res.BaselineRequestsPerSecond
	}
	res.PeakRSSBytes = peakRSS()
	for _, n := range nodes {
		n.Shutdown(context.Background())
	}
	sk.close()
	runtime.GC()
	debug.FreeOSMemory()
	res.RSSAfterBytes = currentRSS()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapAfterBytes = ms.HeapAlloc
	res.GoroutinesAfter = runtime.NumGoroutine()
	return res, nil
}

// waitDone waits until every run has finished — or, in the fairness
// scenario, until the healthy receiver has had all of its requests.
func waitDone(ctx context.Context, cfg Config, obs *counter, healthy *sink, want int) error {
	if cfg.Stall == 0 {
		select {
		case <-obs.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for healthy.count() < want {
		select {
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// setup creates the bench's organisation, collection and automation:
// record_added → call_api POST with a JSON body of five typed fields and a
// response pointer → update_record storing the extracted value. A record's
// "sink" field holds the receiver's base URL.
func setup(ctx context.Context, svc *service.Service, st *store.Store) (string, error) {
	var orgID string
	err := st.Write(ctx, func(tx *store.Tx) error {
		org, err := tx.CreateOrganisation(ctx, "bench")
		if err == nil {
			orgID = org.ID
		}
		return err
	})
	if err != nil {
		return "", err
	}
	err = svc.CreateCollection(ctx, orgID, &record.Collection{Key: "orders", Name: "Orders", Fields: []record.Field{
		{Key: "customer", Type: record.Text}, {Key: "amount", Type: record.Number}, {Key: "vip", Type: record.Boolean},
		{Key: "items", Type: record.JSON}, {Key: "externalId", Type: record.Text}, {Key: "sink", Type: record.Text},
	}, Stages: []string{"New", "Done"}})
	if err != nil {
		return "", err
	}
	_, _, err = svc.SaveAutomation(ctx, orgID, &automation.Automation{
		Name: "bench", Collection: "orders", Enabled: true, Trigger: automation.Trigger{Type: automation.RecordAdded},
		Steps: []automation.StepSpec{
			{ID: "send", Type: automation.TypeCallAPI, Method: "POST", URL: "{record.sink}/hook/{record.id}",
				Headers: []automation.Header{{Name: "X-Customer", Value: "{record.customer}"}},
				Body: &automation.Body{ContentType: automation.ContentJSON, Fields: []automation.BodyField{
					{Key: "rid", Type: "string", Value: "{record.id}"},
					{Key: "customer", Type: "string", Value: "{upper(record.customer)}"},
					{Key: "amount", Type: "number", Value: "{record.amount * 1.2}"},
					{Key: "vip", Type: "boolean", Value: "{record.vip}"},
					{Key: "items", Type: "json", Value: "{record.items}"},
				}},
				Response: &automation.Response{Type: automation.ResponseJSON, Schema: []automation.Mapping{{Pointer: "/id", Field: "ext", Required: true}}}},
			{ID: "save", Type: automation.TypeUpdateRecord, Set: []automation.Assignment{{Field: "externalId", Value: "{fields.ext}"}}},
		},
	})
	return orgID, err
}

// create creates the records: all at once with cfg.Creators goroutines, or
// paced at cfg.Rate per second. commits[i] is record i's commit time.
func create(ctx context.Context, cfg Config, svcs []*service.Service, orgID string, sinks []*sink, commits []time.Time, ids []string) error {
	one := func(i int) error {
		rec, err := svcs[i%len(svcs)].CreateRecord(ctx, orgID, "orders", autohook.RecordInput{Fields: map[string]any{
			"customer": "customer " + strconv.Itoa(i), "amount": float64(i%1000) + 0.5, "vip": i%2 == 0,
			"items": []any{map[string]any{"sku": "SKU-" + strconv.Itoa(i%50), "qty": float64(1 + i%5)}},
			"sink":  sinks[i%len(sinks)].url,
		}})
		if err != nil {
			return err
		}
		// CreatedAt is stamped inside the transaction, just before its
		// commit: the closest the caller can see of the commit itself.
		commits[i], ids[i] = rec.CreatedAt, rec.ID
		return nil
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	if cfg.Rate <= 0 {
		var next atomic.Int64
		for range cfg.Creators {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= cfg.Records || ctx.Err() != nil {
						return
					}
					if err := one(i); err != nil {
						fail(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	t0 := time.Now()
	for i := range cfg.Records {
		// sleep until this record's slot: no drift over long runs
		if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		wg.Go(func() {
			if err := one(i); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// verify checks that every bench record holds the value its run extracted.
func verify(ctx context.Context, st *store.Store, orgID string, want int) (bool, error) {
	page := store.Page{Limit: 500}
	n := 0
	for {
		recs, next, err := st.Records(ctx, orgID, "orders", store.RecordFilter{}, page)
		if err != nil {
			return false, err
		}
		for _, r := range recs {
			if r.Fields["externalId"] != "ext-"+r.ID {
				return false, nil
			}
			n++
		}
		if next == "" {
			return n == want, nil
		}
		page.Cursor = next
	}
}

// sink is the loopback receiver: it answers 200 with {"id":"ext-<rid>"} and
// notes when each record's request arrived.
type sink struct {
	url   string
	srv   *http.Server
	ln    net.Listener
	delay time.Duration // how long each hook request is held (a slow receiver)
	mu    sync.Mutex
	seen  map[string]time.Time
}

func newSink(host string, capacity int, delay time.Duration) (*sink, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, err
	}
	s := &sink{url: "http://" + ln.Addr().String(), ln: ln, delay: delay, seen: make(map[string]time.Time, capacity)}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var body struct {
		Rid string `json:"rid"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/hook/") {
		s.mu.Lock()
		if _, ok := s.seen[body.Rid]; !ok {
			s.seen[body.Rid] = now
		}
		s.mu.Unlock()
		if s.delay > 0 {
			select {
			case <-time.After(s.delay):
			case <-r.Context().Done():
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"ok":true,"id":"ext-`+body.Rid+`"}`)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

func (s *sink) arrival(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.seen[id]
	return t, ok
}

// close stops the sink at once: the measurement is over, and Shutdown would
// wait for idle connections that never sent a request.
func (s *sink) close() { s.srv.Close() }

// Baseline sends n requests like the engine's (a POST with a small JSON
// body) to url with a bare net/http client and `concurrency` goroutines, and
// returns the requests per second.
func Baseline(ctx context.Context, url string, n, concurrency int) (float64, error) {
	tr := &http.Transport{MaxIdleConns: concurrency, MaxIdleConnsPerHost: concurrency, IdleConnTimeout: 90 * time.Second}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for range min(concurrency, n) {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				body := fmt.Sprintf(`{"rid":"b%d","customer":"CUSTOMER %d","amount":%d.5,"vip":%t,"items":[{"sku":"SKU-%d","qty":%d}]}`,
					i, i, i%1000, i%2 == 0, i%50, 1+i%5)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, fmt.Errorf("baseline: %w", err)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// progress prints a progress line every half second on w (nil: none) and
// returns a function that stops it.
func progress(w io.Writer, c *counter, total int) func() {
	if w == nil {
		return func() {}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-stop:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				n := c.succeeded.Load() + c.failed.Load()
				fmt.Fprintf(w, "\r\033[K  %d/%d runs finished (%.0f/s)", n, total, float64(n)/time.Since(start).Seconds())
			}
		}
	}()
	return func() {
		close(stop)
		<-done
	}
}
