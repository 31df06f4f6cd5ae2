package bench

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/store"
)

// costs is what the nodes had asked of the database and the process at one
// moment.
type costs struct {
	stats store.Stats
	size  int64
	cpu   time.Duration
}

func measureCosts(ctx context.Context, nodes []*server.Node) (costs, error) {
	var c costs
	for _, n := range nodes {
		s := n.Store.Stats()
		c.stats.Statements += s.Statements
		c.stats.RoundTrips += s.RoundTrips
		for q, k := range s.ByText {
			if c.stats.ByText == nil {
				c.stats.ByText = map[string]int64{}
			}
			c.stats.ByText[q] += k
		}
	}
	var err error
	if c.size, err = nodes[0].Store.SizeBytes(ctx); err != nil {
		return c, err
	}
	c.cpu = processCPU()
	return c, nil
}

// perRun sets the per-run costs from the costs before and after the burst.
func (r *Result) perRun(before, after costs, runs int) {
	if runs <= 0 {
		return
	}
	n := float64(runs)
	r.StatementsPerRun = float64(after.stats.Statements-before.stats.Statements) / n
	r.RoundTripsPerRun = float64(after.stats.RoundTrips-before.stats.RoundTrips) / n
	r.BytesPerRun = float64(after.size-before.size) / n
	r.CPUMsPerRun = float64((after.cpu - before.cpu).Microseconds()) / 1000 / n
	for q, k := range after.stats.ByText {
		if per := float64(k-before.stats.ByText[q]) / n; per >= minPerRun {
			r.Statements = append(r.Statements, StatementCost{SQL: q, PerRun: per})
		}
	}
	slices.SortFunc(r.Statements, func(a, b StatementCost) int {
		return cmp.Or(cmp.Compare(b.PerRun, a.PerRun), strings.Compare(a.SQL, b.SQL))
	})
}

// minPerRun: statements sent less often than once per this many runs
// (setup, maintenance) are left out of Result.Statements.
const minPerRun = 0.01

// StatementCost is one statement text and how many times per run the burst
// sent it (bench --statements).
type StatementCost struct {
	SQL    string  `json:"sql"`
	PerRun float64 `json:"perRun"`
}

// processCPU is the CPU time (user and system) this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// scratchSchema creates a schema of its own in the PostgreSQL database at
// dbURL, and returns a URL whose connections use it and a function that
// drops it.
func scratchSchema(ctx context.Context, dbURL string) (string, func(), error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", nil, fmt.Errorf("bench: database url: %w", err)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", nil, fmt.Errorf("bench: %w", err)
	}
	defer conn.Close(ctx)
	schema := "autohook_bench_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("bench: create schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(dctx, dbURL); err == nil {
			c.Exec(dctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(dctx)
		}
	}
	return u.String(), drop, nil
}
