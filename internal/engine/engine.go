// Package engine provides the queue worker that executes runs: steps in
// order, every attempt recorded, a failed step retried on its schedule or the
// run failed, a finished run closed. No transaction is open while a request
// is in flight; a step's result and the local steps that follow it commit
// together, so a step whose success was recorded never runs again.
package engine

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/catalog"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/render"
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
	// (default 500).
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
	Attempt(class retry.Class, d time.Duration)
	FirstRequest(sinceTrigger time.Duration)
}

type noMetrics struct{}

func (noMetrics) RunStarted()                        {}
func (noMetrics) RunFinished(automation.Status)      {}
func (noMetrics) RunRetrying()                       {}
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
		cfg.MaxInFlight = 500
	}
	return &Engine{st: st, cat: cat, fire: fire, web: web, box: box, cfg: cfg, log: cfg.Logger, slots: newSlots(cfg.MaxInFlight, cfg.MaxPerOrg)}
}

// Register adds the engine's workers to workers.
func (e *Engine) Register(workers *river.Workers) {
	river.AddWorker(workers, &worker{e: e})
	river.AddWorker(workers, &batchWorker{e: e})
}

type worker struct {
	river.WorkerDefaults[store.RunJob]
	e *Engine
}

// Work executes one run from its next step. When the node already has as
// many runs in flight as it allows, or the run's organisation its share of
// them, the job waits a little, then steps back into the queue (a snooze
// counts no attempt).
func (w *worker) Work(ctx context.Context, job *river.Job[store.RunJob]) error {
	defer w.e.working(job.ID)()
	switch w.e.slots.acquire(ctx, job.Args.OrgID, time.Now().Add(slotWait)) {
	case taken:
	case overShare:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return river.JobSnooze(overShareDelay(job.Metadata))
	default:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return river.JobSnooze(time.Second)
	}
	defer w.e.slots.give(job.Args.OrgID)
	return w.e.execute(ctx, job.Args)
}

// slotWait is how long a job waits for room among the runs in flight.
const slotWait = 2 * time.Second

type batchWorker struct {
	river.WorkerDefaults[store.RunBatchJob]
	e *Engine
}

// Work executes each run of the batch, concurrently within the engine's
// limit of runs in flight. It fails (and River retries the whole batch,
// whose finished runs are then no-ops) if any run could not be recorded.
//
// The runs wait for room among the runs in flight at most slotWait in all
// (a run whose organisation holds its share does not wait); those that
// found none are handed back to the queue as jobs of their own, a second
// later (one over its organisation's share: after overShareDelay), so a
// batch job never holds a queue worker for longer than its runs' own steps
// take.
func (w *batchWorker) Work(ctx context.Context, job *river.Job[store.RunBatchJob]) error {
	defer w.e.working(job.ID)()
	var wg sync.WaitGroup
	runs := job.Args.Runs
	errs := make([]error, len(runs))
	deadline := time.Now().Add(slotWait)
	type later struct {
		job store.RunJob
		at  time.Time
	}
	var rest []later
	for i, rj := range runs {
		switch w.e.slots.acquire(ctx, rj.OrgID, deadline) {
		case overShare:
			rest = append(rest, later{rj, time.Now().Add(overShareDelay(nil))})
			continue
		case nodeFull:
			rest = append(rest, later{rj, time.Now().Add(time.Second)})
			continue
		}
		wg.Go(func() {
			defer w.e.slots.give(rj.OrgID)
			errs[i] = w.e.execute(ctx, rj)
		})
	}
	if len(rest) > 0 {
		err := w.e.untilAvailable(ctx, func() error {
			return w.e.st.Write(context.WithoutCancel(ctx), func(tx *store.Tx) error {
				for _, l := range rest {
					tx.EnqueueRun(l.job, l.at)
				}
				return nil
			})
		})
		errs = append(errs, err)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// working notes that a queue job is being worked here, until the function
// it returns is called.
func (e *Engine) working(id int64) func() {
	e.jobs.Store(id, struct{}{})
	return func() { e.jobs.Delete(id) }
}

// WorkingJobs lists the queue jobs being worked on this node
// (store.ResumeLostJobs leaves them alone).
func (e *Engine) WorkingJobs() []int64 {
	var out []int64
	e.jobs.Range(func(k, _ any) bool {
		out = append(out, k.(int64))
		return true
	})
	return out
}

// OpenSecrets returns an organisation's secrets, opened, by name, and the
// names of those that do not open with box's keys (sorted). The error is
// the store's.
func OpenSecrets(ctx context.Context, st interface {
	SealedSecrets(ctx context.Context, orgID string) (map[string]string, error)
}, box *secret.Box, orgID string) (opened map[string]string, broken []string, err error) {
	sealed, err := st.SealedSecrets(ctx, orgID)
	if err != nil {
		return nil, nil, fmt.Errorf("load secrets: %w", err)
	}
	opened = make(map[string]string, len(sealed))
	for name, s := range sealed {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err == nil {
			var plain []byte
			if plain, err = box.Open(raw, SecretAAD(orgID, name)); err == nil {
				opened[name] = string(plain)
				continue
			}
		}
		broken = append(broken, name)
	}
	slices.Sort(broken)
	return opened, broken, nil
}

// SecretAAD binds a sealed secret to its organisation and name.
func SecretAAD(orgID, name string) []byte { return secret.SecretAAD(orgID, name) }

// execution is the state of one Work call.
type execution struct {
	e       *Engine
	job     store.RunJob
	run     *automation.Run
	comp    *automation.Compiled
	secrets map[string]any
	broken  []string // secrets that do not open with the node's keys
	redact  *secret.Redactor
	unsure  bool // a commit failed in a way that may have hidden its success
	// the update_record steps that run in the write transaction, planned
	// before it (local.go)
	local *localPlan
}

// load reads what a job needs to work its run: nil when there is nothing
// to do (the run is gone, finished, or moved on without the job). The run
// comes back even with an error when it was read.
func (e *Engine) load(ctx context.Context, job store.RunJob) (*execution, *automation.Run, error) {
	run, err := e.st.Run(ctx, job.OrgID, job.RunID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil // deleted or pruned
	}
	if err != nil {
		return nil, nil, err
	}
	if run.Seq != job.Seq || run.Status.Finished() {
		return nil, nil, nil // a stale job: the run moved on without it
	}
	comp, err := e.cat.Get(ctx, job.OrgID, run.AutomationID, run.AutomationVersion)
	if err != nil {
		return nil, run, err
	}
	if len(comp.Steps) != len(run.Steps) {
		return nil, run, fmt.Errorf("run %s has %d steps, automation %s v%d has %d", run.ID, len(run.Steps), comp.ID, comp.Version, len(comp.Steps))
	}
	secrets, broken, err := OpenSecrets(ctx, e.st, e.box, job.OrgID)
	if err != nil {
		return nil, run, err
	}
	x := &execution{e: e, job: job, run: run, comp: comp, broken: broken, secrets: make(map[string]any, len(secrets))}
	values := make([]string, 0, len(secrets))
	for k, v := range secrets {
		x.secrets[k] = v
		values = append(values, v)
	}
	x.redact = secret.NewRedactor(values...)
	return x, run, nil
}

func (x *execution) env(now time.Time) render.Env {
	r := x.run
	return render.NewEnv(r.Record, r.Previous, r.Fields, x.secrets,
		map[string]any{"type": r.Trigger.Type, "at": r.Trigger.At.Format(time.RFC3339Nano)},
		map[string]any{"id": r.ID, "automationId": r.AutomationID}, now)
}

// step runs the next remote step (if the next step is remote), then, in one
// transaction, records it and runs the local steps that follow.
func (x *execution) step(ctx context.Context) error {
	i := x.run.NextStep()
	var remote *pending
	if i < len(x.comp.Steps) {
		if s, ok := x.comp.Steps[i].(*automation.CallAPI); ok {
			remote = x.callAPI(ctx, i, s)
			if remote == nil {
				return ctx.Err() // shutting down: the job will run again
			}
		}
	}
	if remote != nil && remote.deferred {
		return x.write(ctx, func(tx *store.Tx) error { return x.commit(ctx, tx, i, remote) })
	}
	return x.record(ctx, i, remote)
}

// pending is a remote attempt waiting to be committed.
type pending struct {
	attempt  *automation.Attempt
	fields   map[string]any
	failure  *retry.Failure
	deferred bool // not sent: the destination had its share of requests in flight, or the step's rate its slot
	rateSlot time.Time
}

// hostWait is how long a run waits for room at a busy destination before
// it steps back into the queue.
const hostWait = 200 * time.Millisecond

// deferDelay is how long a run waits before it tries a busy destination
// again: 250 ms, doubling with each deferral in a row, at most 30 s.
func deferDelay(n int) time.Duration {
	d := 250 * time.Millisecond << min(n, 7)
	return min(d, 30*time.Second)
}

// callAPI sends step i once and returns the attempt to commit; nil when the
// node is shutting down before anything was sent.
func (x *execution) callAPI(ctx context.Context, i int, s *automation.CallAPI) *pending {
	e := x.e
	state := &x.run.Steps[i]
	n := state.AttemptCount + 1
	start := e.cfg.Now()
	if n == 1 && i == 0 {
		e.cfg.Metrics.FirstRequest(start.Sub(x.run.Trigger.At))
	}
	// Show the run as running only when the step takes a while.
	marked := make(chan struct{})
	timer := time.AfterFunc(runningAfter, func() {
		defer close(marked)
		err := e.st.Write(context.WithoutCancel(ctx), func(tx *store.Tx) error {
			return tx.MarkRunRunning(ctx, x.job.OrgID, x.run.ID, x.run.Seq)
		})
		if err != nil {
			e.log.WarnContext(ctx, "mark run running", "run", x.run.ID, "err", err)
		}
	})
	defer func() {
		if !timer.Stop() {
			<-marked
		}
	}()
	a := &automation.Attempt{N: n, StartedAt: start.UTC()}
	p := &pending{attempt: a}
	if f := secretFailure(x.comp, x.broken, s); f != nil {
		p.failure = f
		a.Error = &automation.AttemptError{Class: f.Class, Message: f.Message}
		e.cfg.Metrics.Attempt(f.Class, 0)
		return p
	}
	req, f := e.web.Build(s, x.env(start), IdempotencyKey(x.run.ID, s.ID), x.comp.Signer, start)
	req.Org = x.job.OrgID
	// Values computed from secrets are hidden like the secrets.
	redact := x.redact.With(req.Derived...)
	if f != nil {
		f.Message = redact.String(f.Message) // also in the run's error
		p.failure = f
		a.Error = &automation.AttemptError{Class: f.Class, Message: f.Message}
		a.DurationMs = ms(e.cfg.Now().Sub(start))
		e.cfg.Metrics.Attempt(f.Class, 0)
		return p
	}
	if ctx.Err() != nil {
		return nil
	}
	release, ok := e.web.Reserve(ctx, x.job.OrgID, req.URL, hostWait)
	if !ok {
		if ctx.Err() != nil {
			return nil
		}
		return &pending{deferred: true}
	}
	defer release()
	if p, ok := x.awaitRate(ctx, i, s); !ok {
		return p
	}
	res := e.web.Do(ctx, s, req)
	if ctx.Err() != nil && res.Status == 0 {
		return nil
	}
	redact = redact.With(res.Derived...) // an OAuth 2.0 access token
	a.DurationMs = ms(res.Duration)
	a.Request = webhook.HistoryRequest(req, redact, e.cfg.HistoryBodyLimit)
	if res.Status != 0 {
		a.Response = webhook.HistoryResponse(res, redact, e.cfg.HistoryBodyLimit)
	}
	class := retry.Class("")
	if res.Failure != nil {
		res.Failure.Message = redact.String(res.Failure.Message) // also in the run's error
		p.failure = res.Failure
		class = res.Failure.Class
		a.Error = &automation.AttemptError{Class: class, Message: res.Failure.Message}
	} else {
		// A captured value holding a secret (a receiver echoing a token)
		// is kept redacted, in history and for later steps alike: secret
		// values live only in the secrets table.
		p.fields = redactFields(redact, res.Fields)
		a.Fields = p.fields
	}
	e.cfg.Metrics.Attempt(class, res.Duration)
	return p
}

// redactFields returns fields with secret values hidden in its strings.
func redactFields(r *secret.Redactor, fields map[string]any) map[string]any {
	if len(fields) == 0 {
		return fields
	}
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		out[k] = redactValue(r, v)
	}
	return out
}

func redactValue(r *secret.Redactor, v any) any {
	switch t := v.(type) {
	case string:
		return r.String(t)
	case map[string]any:
		return redactFields(r, t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = redactValue(r, e)
		}
		return out
	}
	return v
}

// IdempotencyKey is the stable id of one step of one run, sent as
// Idempotency-Key and webhook-id on every attempt of that step.
func IdempotencyKey(runID, stepID string) string { return runID + "." + stepID }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// commit records the remote attempt (if any), runs the local steps that
// follow, and decides what happens next: another job, a retry, or the end.
func (x *execution) commit(ctx context.Context, tx *store.Tx, i int, remote *pending) error {
	e, run := x.e, x.run
	now := e.cfg.Now().UTC()
	expectSeq := run.Seq
	if remote != nil && remote.deferred {
		// Not sent: no attempt; the run tries again a little later.
		state := &run.Steps[i]
		run.Seq++
		tx.EnqueueRun(store.RunJob{OrgID: x.job.OrgID, RunID: run.ID, Seq: run.Seq}, remote.deferredUntil(state, now))
		return tx.UpdateRun(ctx, x.job.OrgID, run, expectSeq)
	}
	if remote != nil {
		state := &run.Steps[i]
		state.Deferrals = 0
		state.RateSlot, state.RateMisses = nil, 0
		state.AttemptCount = remote.attempt.N
		state.NextAttemptAt = nil
		if err := tx.InsertAttempt(ctx, run.ID, i, remote.attempt); err != nil {
			return err
		}
		if remote.failure != nil {
			return x.failed(ctx, tx, i, remote.failure, now, expectSeq)
		}
		state.Status = automation.StepSucceeded
		for k, v := range remote.fields {
			run.Fields[k] = v
		}
		i++
	}
	// Local steps, planned before this transaction, are written in it.
	if x.local != nil {
		for _, ls := range x.local.steps {
			f, err := x.applyLocal(ctx, tx, ls, x.local)
			if err != nil {
				return err
			}
			if f != nil {
				return x.failed(ctx, tx, ls.i, f, now, expectSeq)
			}
			i = ls.i + 1
		}
	}
	if i < len(x.comp.Steps) {
		// Another remote step: a new job, so that every job is bounded by
		// one request's timeout.
		run.Seq++
		run.Status = automation.StatusRunning
		run.NextAttemptAt = nil
		tx.EnqueueRun(store.RunJob{OrgID: x.job.OrgID, RunID: run.ID, Seq: run.Seq}, time.Time{})
		return tx.UpdateRun(ctx, x.job.OrgID, run, expectSeq)
	}
	run.Status = automation.StatusSucceeded
	run.FinishedAt = &now
	run.NextAttemptAt = nil
	run.Error = nil
	if err := tx.UpdateRun(ctx, x.job.OrgID, run, expectSeq); err != nil {
		return err
	}
	tx.OnCommit(func() { e.cfg.Metrics.RunFinished(automation.StatusSucceeded) })
	return nil
}

// failed records a failed attempt's consequence: a retry when the class is
// retryable and attempts remain, else the run fails.
func (x *execution) failed(ctx context.Context, tx *store.Tx, i int, f *retry.Failure, now time.Time, expectSeq int64) error {
	e, run := x.e, x.run
	state := &run.Steps[i]
	maxAttempts := e.cfg.DefaultMaxAttempts
	if x.comp != nil {
		if s, ok := x.comp.Steps[i].(*automation.CallAPI); ok && s.MaxAttempts > 0 {
			maxAttempts = s.MaxAttempts
		}
	}
	made := state.AttemptCount - state.RetryBase
	if retry.Retryable(f.Class, f.Status) && made < maxAttempts {
		delay := e.cfg.Retry.Next(made, f.RetryAfter)
		next := now.Add(delay)
		state.Status = automation.StepRetrying
		state.NextAttemptAt = &next
		run.Status = automation.StatusRetrying
		run.NextAttemptAt = &next
		run.Error = &automation.AttemptError{Class: f.Class, Message: x.redact.String(f.Message)}
		run.Seq++
		tx.EnqueueRun(store.RunJob{OrgID: x.job.OrgID, RunID: run.ID, Seq: run.Seq}, next)
		tx.OnCommit(e.cfg.Metrics.RunRetrying)
		return tx.UpdateRun(ctx, x.job.OrgID, run, expectSeq)
	}
	state.Status = automation.StepFailed
	state.NextAttemptAt = nil
	run.Status = automation.StatusFailed
	run.FinishedAt = &now
	run.NextAttemptAt = nil
	run.Error = &automation.AttemptError{Class: f.Class, Message: x.redact.String(f.Message)}
	for j := i + 1; j < len(run.Steps); j++ {
		run.Steps[j].Status = automation.StepCancelled
	}
	tx.OnCommit(func() { e.cfg.Metrics.RunFinished(automation.StatusFailed) })
	return tx.UpdateRun(ctx, x.job.OrgID, run, expectSeq)
}

// EvalUpdate evaluates an update_record step's assignments against a
// collection: the field changes, normalised, and the stage (stage when the
// step does not set it).
func EvalUpdate(coll *record.Collection, s *automation.UpdateRecord, env render.Env, stage string) (map[string]any, string, *retry.Failure) {
	changes := map[string]any{}
	for _, as := range s.Set {
		v, err := as.Value.Eval(env)
		if err != nil {
			return nil, "", &retry.Failure{Class: retry.Render, Message: fmt.Sprintf("set %s: %v", as.Field, err)}
		}
		if as.Field == "stage" {
			stage = render.Stringify(v)
			if perr := coll.CheckStage("stage", stage); perr != nil {
				return nil, "", &retry.Failure{Class: retry.Render, Message: fmt.Sprintf("set stage: %v", perr)}
			}
			continue
		}
		f, ok := coll.Field(as.Field)
		if !ok {
			return nil, "", &retry.Failure{Class: retry.Record, Message: fmt.Sprintf("collection %q has no field %q any more", coll.Key, as.Field)}
		}
		v, err = convertForField(f.Type, v)
		if err != nil {
			return nil, "", &retry.Failure{Class: retry.Render, Message: fmt.Sprintf("set %s: %v", as.Field, err)}
		}
		changes[as.Field] = v
	}
	norm, err := coll.CheckFields(changes)
	if err != nil {
		return nil, "", &retry.Failure{Class: retry.Render, Message: err.Error()}
	}
	return norm, stage, nil
}

// convertForField converts an evaluated value to what a record field of type
// t holds.
func convertForField(t record.FieldType, v any) (any, error) {
	switch t {
	case record.Number:
		return render.Convert(v, "number")
	case record.Boolean:
		return render.Convert(v, "boolean")
	case record.JSON:
		return render.Convert(v, "json")
	case record.Text, record.Date, record.DateTime:
		if v == nil {
			return nil, nil
		}
		return render.Stringify(v), nil
	}
	return v, nil
}
