package server_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
)

// stalled is a set of receivers that never answer: each request is held
// until the test releases them. It counts the requests held per host.
type stalled struct {
	mu      sync.Mutex
	now     map[string]int // held, per host
	peak    map[string]int // most held at once, per host
	total   int
	release chan struct{}
	once    sync.Once
	addrs   []string // host:port of each receiver
}

func newStalled(t *testing.T, hosts []string, portsPerHost int) *stalled {
	s := &stalled{now: map[string]int{}, peak: map[string]int{}, release: make(chan struct{})}
	for _, host := range hosts {
		for range portsPerHost {
			l, err := net.Listen("tcp", host+":0")
			if err != nil {
				t.Skipf("cannot listen on %s (loopback aliases): %v", host, err)
			}
			srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s.mu.Lock()
				s.now[host]++
				s.total++
				s.peak[host] = max(s.peak[host], s.now[host])
				s.mu.Unlock()
				defer func() {
					s.mu.Lock()
					s.now[host]--
					s.mu.Unlock()
				}()
				select {
				case <-s.release:
				case <-r.Context().Done():
				}
				w.WriteHeader(http.StatusServiceUnavailable)
			})}}
			srv.Start()
			t.Cleanup(srv.Close)
			s.addrs = append(s.addrs, l.Addr().String())
		}
	}
	return s
}

// held returns the requests held now, in all, and the most held at once
// by one host.
func (s *stalled) held() (now, peakPerHost int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.now {
		now += n
	}
	for _, n := range s.peak {
		peakPerHost = max(peakPerHost, n)
	}
	return now, peakPerHost
}

func (s *stalled) stop() { s.once.Do(func() { close(s.release) }) }

// TestFairShare: one organisation with hundreds of runs against receivers
// that never answer, spread over several hosts and ports, holds no more
// than its share of the node's runs in flight, and no more than
// --max-per-host requests at one host whatever the port; another
// organisation's runs keep their latency, measured before the flood in the
// same test (issue 18, finding 3: 496 of 500 slots held, 50 s instead of
// 0.2 s).
func TestFairShare(t *testing.T) {
	t.Parallel()
	const (
		workers    = 60 // --max-workers: the fair share alone is 54
		perHost    = 12 // --max-per-host
		floodRuns  = 300
		victimRuns = 6
	)
	nd := startNode(t, func(c *server.Config) { c.MaxWorkers, c.MaxPerHost = workers, perHost })
	// 8 hosts × 3 ports: --max-per-host alone would let 96 requests hang,
	// more than the node's 60 runs in flight.
	hosts := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8", "127.0.0.9"}
	hang := newStalled(t, hosts, 3)
	t.Cleanup(hang.stop) // before the node stops: its runs end at once

	// The victim: its own organisation, collection and receiver.
	var org struct{ APIKey string }
	nd.must(201, "POST", "/api/v1/organisations", map[string]any{"name": "Victim"}, &org)
	victim := &node{Node: &servertest.Node{Client: *nd.As(org.APIKey), Server: nd.Server}, t: t}
	rc := servertest.NewReceiver(t, nil)
	for _, c := range []*node{nd, victim} {
		c.must(201, "POST", "/api/v1/collections", map[string]any{"key": "jobs", "name": "Jobs",
			"fields": []map[string]any{{"key": "host", "type": "text"}, {"key": "port", "type": "text"}, {"key": "n", "type": "number"}}}, nil)
	}
	nd.must(201, "POST", "/api/v1/automations", map[string]any{"name": "flood", "collection": "jobs", "trigger": map[string]any{"type": "record_added"},
		"steps": []any{map[string]any{"type": "call_api", "url": "http://{record.host}:{record.port}/hang", "timeoutSeconds": 120, "maxAttempts": 1}}}, nil)
	victim.must(201, "POST", "/api/v1/automations", map[string]any{"name": "victim", "collection": "jobs", "trigger": map[string]any{"type": "record_added"},
		"steps": []any{map[string]any{"type": "call_api", "url": rc.URL + "/v/{record.n}"}}}, nil)

	// latency creates a victim record and waits for its request.
	latency := func(n int) time.Duration {
		t.Helper()
		start := time.Now()
		victim.must(201, "POST", "/api/v1/collections/jobs/records", map[string]any{"fields": map[string]any{"n": n}}, nil)
		deadline := time.After(30 * time.Second)
		for {
			for _, r := range rc.Requests() {
				if r.URL.Path == "/v/"+strconv.Itoa(n) {
					return r.At.Sub(start)
				}
			}
			select {
			case <-deadline:
				t.Fatalf("the victim's run %d sent nothing in 30 s", n)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	var baseline []time.Duration
	for i := range victimRuns {
		baseline = append(baseline, latency(i))
	}

	// The flood: records created in parallel, each run hanging at one of
	// the receivers.
	var wg sync.WaitGroup
	for i := range floodRuns {
		wg.Go(func() {
			host, port, _ := net.SplitHostPort(hang.addrs[i%len(hang.addrs)])
			a, err := nd.Send(context.Background(), "POST", "/api/v1/collections/jobs/records", map[string]any{"fields": map[string]any{"host": host, "port": port}})
			if err != nil || a.Status != 201 {
				t.Errorf("flood record %d: %v %d %s", i, err, a.Status, a.Body)
			}
		})
	}
	wg.Wait()
	// Wait until the flood holds what it can.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if now, _ := hang.held(); now >= 40 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Let the rest of the flood try its luck: runs of a batch that found
	// no room come back as jobs of their own a second later, and stand in
	// the queue before the victim's.
	time.Sleep(1500 * time.Millisecond)
	now, peak := hang.held()
	if limit := workers - workers/10; now > limit {
		t.Errorf("the flooding organisation holds %d runs in flight, more than its share of %d", now, limit)
	}
	if now < 20 {
		t.Errorf("the flooding organisation holds only %d runs in flight: the test did not load the node", now)
	}
	if peak > perHost {
		t.Errorf("%d requests were held at one host over its ports at once, more than --max-per-host %d", peak, perHost)
	}

	var under []time.Duration
	for i := range victimRuns {
		under = append(under, latency(victimRuns+i))
	}
	slices.Sort(baseline)
	slices.Sort(under)
	// A bound with room for a busy machine, far below what starvation
	// costs (a run waits for a hanging one to time out: 120 s here).
	bound := 5*baseline[len(baseline)-1] + 3*time.Second
	t.Logf("victim latency: baseline %v, under the flood %v (bound %v); flood in flight %d, most at one host %d", baseline, under, bound, now, peak)
	if worst := under[len(under)-1]; worst > bound {
		t.Errorf("the victim's worst latency under the flood is %v, more than %v (baseline %v)", worst, bound, baseline)
	}
}
