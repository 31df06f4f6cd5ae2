// Package engine provides the queue worker that executes runs: steps in
// order, every attempt recorded, a failed step retried on its schedule or the
// run failed, a finished run closed. No transaction is open while a request
// is in flight; a step's result and the local steps that follow it commit
// together, so a step whose success was recorded never runs again.
//
// One concept per file: worker.go (the River workers, slots for runs in
// flight), execution.go (loading a run, working its next step, committing
// what came of it), callapi.go (one call_api attempt), transition.go (the
// run state machine, a pure function), local.go and update.go (update_record
// steps), rate.go (maxPerSecond), share.go (each organisation's share of the
// node), outcome.go (what stops a job), secrets.go, dryrun.go (Test).
package engine

import (
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/catalog"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/store"
	"github.com/autohook/autohook/internal/trigger"
	"github.com/autohook/autohook/internal/webhook"
)

// Defaults.
const (
	// DefaultMaxAttempts is one attempt plus a retry for each entry of the
	// default schedule.
	DefaultMaxAttempts = 9
	// DefaultHistoryBodyLimit is how much of a request or response body
	// history keeps.
	DefaultHistoryBodyLimit = 64 << 10
	// runningAfter is how long a step may take before its run is shown as
	// running: a run that finishes sooner goes from queued to its outcome
	// in one write, which matters at thousands of runs per second.
	runningAfter = 250 * time.Millisecond
)

// Config configures an Engine.
type Config struct {
	// MaxInFlight bounds the runs being worked at once on this node
	// (default store.DefaultMaxWorkers, the queue's own bound).
	MaxInFlight int
	// MaxPerOrg bounds one organisation's runs in flight on this node:
	// 0 (the default) a fair share that adapts to how many organisations
	// are busy (see slots), N > 0 at most N, negative no bound. A run over
	// it steps back into the queue; no attempt is counted.
	MaxPerOrg          int
	DefaultMaxAttempts int
	Retry              retry.Policy
	HistoryBodyLimit   int
	Now                func() time.Time
	Logger             *slog.Logger
	Metrics            Metrics
}

// Metrics receives what the engine observes; methods must be fast and safe
// for concurrent use.
type Metrics interface {
	RunStarted()
	RunFinished(status automation.Status)
	RunRetrying()
	// RunFailed counts a run that ended failed, by the class of its error.
	RunFailed(class retry.Class)
	// AutomationPaused counts an automation paused by its failures.
	AutomationPaused()
	Attempt(class retry.Class, d time.Duration)
	FirstRequest(sinceTrigger time.Duration)
}

type noMetrics struct{}

func (noMetrics) RunStarted()                        {}
func (noMetrics) RunFinished(automation.Status)      {}
func (noMetrics) RunRetrying()                       {}
func (noMetrics) RunFailed(retry.Class)              {}
func (noMetrics) AutomationPaused()                  {}
func (noMetrics) Attempt(retry.Class, time.Duration) {}
func (noMetrics) FirstRequest(time.Duration)         {}

// Engine executes runs.
type Engine struct {
	st    *store.Store
	cat   *catalog.Catalog
	fire  *trigger.Firer
	web   *webhook.Client
	box   *secret.Box
	cfg   Config
	log   *slog.Logger
	slots *slots
	jobs  sync.Map // River job id -> struct{}: the jobs being worked here
	runs  sync.Map // claimKey -> struct{}: the runs being worked here, by generation (claim)
	// organisations' secrets, opened, by the generation they were read at
	// (secrets.go)
	secrets catalog.PerOrg[struct{}, opened]
}

// New returns an Engine.
func New(st *store.Store, cat *catalog.Catalog, fire *trigger.Firer, web *webhook.Client, box *secret.Box, cfg Config) *Engine {
	if cfg.DefaultMaxAttempts <= 0 {
		cfg.DefaultMaxAttempts = DefaultMaxAttempts
	}
	if cfg.HistoryBodyLimit <= 0 {
		cfg.HistoryBodyLimit = DefaultHistoryBodyLimit
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	if cfg.Retry.Schedule == nil {
		cfg.Retry.Schedule = retry.DefaultSchedule
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = store.DefaultMaxWorkers
	}
	e := &Engine{st: st, cat: cat, fire: fire, web: web, box: box, cfg: cfg, log: cfg.Logger, slots: newSlots(cfg.MaxInFlight, cfg.MaxPerOrg)}
	st.OnCatalogChange(e.secrets.Forget)
	return e
}

// Register adds the engine's workers to workers.
func (e *Engine) Register(workers *river.Workers) {
	river.AddWorker(workers, &worker{e: e})
	river.AddWorker(workers, &batchWorker{e: e})
}

// policy is the state machine's policy from the engine's configuration.
func (e *Engine) policy() policy {
	return policy{MaxAttempts: e.cfg.DefaultMaxAttempts, Retry: e.cfg.Retry}
}
