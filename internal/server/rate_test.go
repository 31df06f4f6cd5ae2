package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
)

// rateBurst is how many requests beyond maxPerSecond one second may hold
// (docs/BEHAVIOUR.md): a run that stepped back into the queue may come up
// to one interval late for its slot.
const rateBurst = 1

// rateJitter is the delivery jitter the arrival checks allow: a request
// sent on time may arrive a little late (the machine is shared), which
// brings it closer to the next one. Without the limit the 50 requests all
// arrive within well under a second, so the check still bites.
const rateJitter = 150 * time.Millisecond

// maxInWindow is the most arrivals any window of length w holds.
func maxInWindow(at []time.Time, w time.Duration) int {
	at = slices.Clone(at)
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	most := 0
	j := 0
	for i := range at {
		for at[i].Sub(at[j]) >= w {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

func arrivals(rc *servertest.Receiver) []time.Time {
	var out []time.Time
	for _, r := range rc.Requests() {
		out = append(out, r.At)
	}
	return out
}

// checkRate checks that the arrivals of a step under maxPerSecond n hold,
// in any 1 s window (less the delivery jitter), at most n + rateBurst.
func checkRate(t *testing.T, at []time.Time, n int) {
	t.Helper()
	exact := maxInWindow(at, time.Second)
	if got := maxInWindow(at, time.Second-rateJitter); got > n+rateBurst {
		t.Errorf("a window of %v holds %d requests, want at most %d + %d", time.Second-rateJitter, got, n, rateBurst)
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	t.Logf("%d requests over %v; at most %d in any 1 s window", len(at), at[len(at)-1].Sub(at[0]).Round(time.Millisecond), exact)
}

func rateAutomation(name, collection, url string, maxPerSecond float64) map[string]any {
	step := map[string]any{"id": "send", "type": "call_api", "method": "POST", "url": url,
		"body": map[string]any{"contentType": "text/plain", "text": "{record.name}"}}
	if maxPerSecond > 0 {
		step["maxPerSecond"] = maxPerSecond
	}
	return map[string]any{"name": name, "collection": collection, "trigger": map[string]any{"type": "record_added"}, "steps": []any{step}}
}

// TestMaxPerSecond: 50 runs of a step with maxPerSecond 10 reach the
// receiver no faster than 10 a second, each with one attempt (waiting is
// not one); meanwhile another automation's runs, without a limit, go
// through at once.
func TestMaxPerSecond(t *testing.T) { eachDB(t, testMaxPerSecond) }

func testMaxPerSecond(t *testing.T, db func(*server.Config)) {
	const limited, free, perSecond = 50, 20, 10
	nd := startNode(t, db)
	slow := servertest.NewReceiver(t, nil)
	fast := servertest.NewReceiver(t, nil)
	nd.must(201, "POST", "/api/v1/collections", leads, nil)
	others := map[string]any{"key": "others", "name": "Others", "fields": []map[string]any{{"key": "name", "type": "text"}}}
	nd.must(201, "POST", "/api/v1/collections", others, nil)
	var a, b map[string]any
	nd.must(201, "POST", "/api/v1/automations", rateAutomation("limited", "leads", slow.URL+"/limited", perSecond), &a)
	nd.must(201, "POST", "/api/v1/automations", rateAutomation("free", "others", fast.URL+"/free", 0), &b)

	// The limited step's records, created together: a backlog of 5 s.
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Go(func() {
			for i := g; i < limited; i += 10 {
				if a, err := nd.Send(t.Context(), "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": fmt.Sprint("slow ", i)}}); err != nil || a.Status != 201 {
					t.Errorf("create record: %v %d %s", err, a.Status, a.Body)
				}
			}
		})
	}
	wg.Wait()
	backlog := limited - slow.Count()
	freeStart := time.Now()
	for i := range free {
		nd.must(201, "POST", "/api/v1/collections/others/records", map[string]any{"fields": map[string]any{"name": fmt.Sprint("fast ", i)}}, nil)
	}
	waitCount(t, fast, free, 30*time.Second)
	freeDone := time.Now()
	waitCount(t, slow, limited, 60*time.Second)

	at := arrivals(slow)
	checkRate(t, at, perSecond)
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	// The other automation was not held up behind the limited one: its
	// runs were all delivered while the limited step still had a backlog.
	t.Logf("the unlimited automation's %d runs took %v, started with %d of the limited step's requests to go", free, freeDone.Sub(freeStart).Round(time.Millisecond), backlog)
	if backlog < 2*perSecond {
		t.Logf("the records were created too slowly to build a backlog of 2 s: the check that the other automation is not held up is left out")
	} else if last := fast.Requests()[free-1].At; !last.Before(at[limited-1]) {
		t.Errorf("the unlimited automation's last request came %v after its records, after the limited step's last request: it waited behind the limit",
			last.Sub(freeStart).Round(time.Millisecond))
	}

	for _, r := range nd.waitRuns(a["id"].(string), limited) {
		var run histRun
		nd.must(200, "GET", "/api/v1/runs/"+r["id"].(string), nil, &run)
		if run.Status != "succeeded" || len(run.Steps[0].Attempts) != 1 {
			t.Errorf("run %s: %s with %d attempts; want succeeded with 1 (waiting for the rate is no attempt)", run.ID, run.Status, len(run.Steps[0].Attempts))
		}
	}
}

func waitCount(t *testing.T, rc *servertest.Receiver, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for rc.Count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests arrived within %v, want %d", rc.Count(), limit, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// attemptCounter counts a node's Call API attempts.
type attemptCounter struct{ n atomic.Int64 }

func (*attemptCounter) RunStarted()                          {}
func (*attemptCounter) RunFinished(automation.Status)        {}
func (*attemptCounter) RunFailed(retry.Class)                {}
func (*attemptCounter) AutomationPaused()                    {}
func (*attemptCounter) RunRetrying()                         {}
func (c *attemptCounter) Attempt(retry.Class, time.Duration) { c.n.Add(1) }
func (*attemptCounter) FirstRequest(time.Duration)           {}

// TestMaxPerSecondAcrossNodes: two nodes on one PostgreSQL database, both
// working the step's runs, share its budget.
func TestMaxPerSecondAcrossNodes(t *testing.T) {
	t.Parallel()
	const runs, perSecond = 30, 10
	url := pgtest.NewDatabase(t)
	counters := []*attemptCounter{{}, {}}
	var nodes []*node
	for _, c := range counters {
		nodes = append(nodes, startNode(t, func(cfg *server.Config) { cfg.DatabaseURL = url; cfg.Observer = c }))
	}
	rc := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	nodes[0].must(201, "POST", "/api/v1/collections", leads, nil)
	nodes[0].must(201, "POST", "/api/v1/automations", rateAutomation("limited", "leads", rc.URL+"/limited", perSecond), nil)
	var wg sync.WaitGroup
	for n := range nodes {
		wg.Go(func() {
			for i := range runs / len(nodes) {
				if _, err := nodes[n].Send(t.Context(), "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": fmt.Sprint(n, "-", i)}}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	waitCount(t, rc, runs, 60*time.Second)
	checkRate(t, arrivals(rc), perSecond)
	var list struct{ Items []map[string]any }
	nodes[0].must(200, "GET", "/api/v1/automations", nil, &list)
	nodes[0].waitRuns(list.Items[0]["id"].(string), runs) // every attempt counted
	a, b := counters[0].n.Load(), counters[1].n.Load()
	t.Logf("node 1 sent %d, node 2 sent %d", a, b)
	if a+b != runs {
		t.Errorf("attempts %d + %d, want %d", a, b, runs)
	}
	if a == 0 || b == 0 {
		t.Errorf("one node sent every request (%d, %d): the test did not check a shared budget", a, b)
	}
}
