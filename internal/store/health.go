package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Readiness.
//
// A database can answer reads while it refuses writes (SQLite on a full or
// read-only disk), so Ready does not only ask it something: it also
// remembers how the last write went. When a write fails because the
// database is unavailable, the store probes with a tiny write every
// ProbeEvery until one commits — so a node that no one writes to (its load
// balancer stopped sending, seeing it not ready) still notices that the
// database came back.

// ProbeEvery is how often an unavailable database is probed with a write.
const ProbeEvery = time.Second

// MinFreeBytes is the free space below which a SQLite database counts as
// unavailable: it could not grow its write-ahead log much further.
const MinFreeBytes = 1 << 20

// health is the outcome of the last write, and the prober.
type health struct {
	mu      sync.Mutex
	failing error // why the last write failed (ErrUnavailable); nil when it worked
	probing bool
	stop    chan struct{}
	done    sync.WaitGroup
	probe   func(ctx context.Context) error
}

func newHealth(probe func(ctx context.Context) error) *health {
	return &health{stop: make(chan struct{}), probe: probe}
}

// outcome records a write batch's outcome; the first unavailability starts
// the prober.
func (h *health) outcome(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil || !errors.Is(err, ErrUnavailable) {
		h.failing = nil
		return
	}
	h.failing = err
	if h.probing {
		return
	}
	select {
	case <-h.stop:
		return
	default:
	}
	h.probing = true
	h.done.Go(h.run)
}

// run probes until a write works or the store closes.
func (h *health) run() {
	defer func() {
		h.mu.Lock()
		h.probing = false
		h.mu.Unlock()
	}()
	t := time.NewTicker(ProbeEvery)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		if h.err() == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = h.probe(ctx) // its outcome is recorded like any write's
		cancel()
	}
}

func (h *health) err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failing
}

func (h *health) close() {
	h.mu.Lock()
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	h.mu.Unlock()
	h.done.Wait()
}

// Ready reports whether the node can use the database: its last write
// worked (or a probe since), it answers a read, and (SQLite) its disk has
// room and is writable. The error wraps ErrUnavailable and says why.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.health.err(); err != nil {
		return fmt.Errorf("writes are failing: %w", err)
	}
	var one int
	if err := s.q.queryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		if errors.Is(err, ErrUnavailable) {
			return err
		}
		return &unavailableError{err}
	}
	return s.b.ready()
}

// probe is the write the prober makes: one row of autohook_meta.
func (s *Store) probe(ctx context.Context) error {
	return s.Write(ctx, func(tx *Tx) error {
		return tx.SetMeta(ctx, "probe", tx.Now().Format(time.RFC3339Nano))
	})
}
