package engine

import (
	"context"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/store"
	"github.com/autohook/autohook/internal/webhook"
)

// pending is a remote attempt waiting to be committed.
type pending struct {
	attempt  *automation.Attempt
	fields   map[string]any
	failure  *retry.Failure
	skipped  bool // the step's if was false: nothing sent
	paused   bool // the automation was paused before the request was sent
	deferred bool // not sent: the destination had its share of requests in flight, or the step's rate its slot
	rateSlot time.Time
}

// sent reports whether p's request went out (or was refused by the
// destination policy): then it has an attempt to record. A skipped,
// paused or deferred step has none.
func (p *pending) sent() bool { return p.attempt != nil }

// result is what p means to the state machine for step i, its failure's
// message hidden by redact.
func (p *pending) result(i int, redact *secret.Redactor) stepResult {
	if p.skipped {
		return stepResult{Kind: skipped, Step: i}
	}
	if p.paused {
		return stepResult{Kind: paused, Step: i}
	}
	if p.deferred {
		return stepResult{Kind: deferred, Step: i, RateSlot: p.rateSlot}
	}
	r := stepResult{Kind: sent, Step: i, Attempt: p.attempt.N, Fields: p.fields}
	if p.attempt.Response != nil {
		r.Status = p.attempt.Response.Status
	}
	if p.failure != nil {
		f := *p.failure
		f.Message = redact.String(f.Message)
		r.Failure = &f
	}
	return r
}

// hostWait is how long a run waits for room at a busy destination before
// it steps back into the queue.
const hostWait = 200 * time.Millisecond

// callAPIIf is callAPI for a step whose if holds: a step whose if is
// false is skipped, one whose if cannot be evaluated fails (class render,
// not retried: the same if would fail again).
func (x *execution) callAPIIf(ctx context.Context, i int, s *automation.CallAPI) *pending {
	var skipIt bool
	var f *retry.Failure
	if s.StepFlow().If != nil { // the environment only when there is an if to evaluate
		skipIt, f = skip(s, x.env(x.run.Record, x.run.Fields, x.e.cfg.Now()))
	}
	switch {
	case skipIt:
		return &pending{skipped: true}
	case f != nil:
		n := x.run.Steps[i].AttemptCount + 1
		f.Message = x.sec.redact.String(f.Message)
		a := &automation.Attempt{N: n, StartedAt: x.e.cfg.Now().UTC(), Error: &automation.AttemptError{Class: f.Class, Message: f.Message}}
		return &pending{attempt: a, failure: f}
	}
	return x.callAPI(ctx, i, s)
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
	if f := secretFailure(x.comp, x.sec.broken, s); f != nil {
		p.failure = f
		a.Error = &automation.AttemptError{Class: f.Class, Message: f.Message}
		e.cfg.Metrics.Attempt(f.Class, 0)
		return p
	}
	req, f := e.web.Build(s, x.env(x.run.Record, x.run.Fields, start), IdempotencyKey(x.run.ID, s.ID), x.comp.Signer, start)
	req.Org = x.job.OrgID
	// Values computed from secrets are hidden like the secrets.
	redact := x.sec.redact.With(req.Derived...)
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
	// The last moment a pause stops the step: the request is not sent.
	if x.pausedNow(ctx) {
		return &pending{paused: true}
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
		if res.Fields != nil { // onError "continue": captured from the error response
			p.fields = redactFields(redact, res.Fields)
			a.Fields = p.fields
		}
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

// pauseFresh is how old the pause state read with the run may be when a
// request is sent: a step that took longer to get there (it waited for its
// destination's share or its rate) reads it again.
const pauseFresh = 50 * time.Millisecond

// pausedNow reports whether x's automation is paused, just before its
// request: as read with the run, or read again when that was more than
// pauseFresh ago. A read that fails does not stop the request.
func (x *execution) pausedNow(ctx context.Context) bool {
	e := x.e
	if x.paused || e.cfg.Now().Sub(x.loadedAt) <= pauseFresh {
		return x.paused
	}
	paused, err := e.st.AutomationPaused(ctx, x.job.OrgID, x.run.AutomationID)
	if err != nil && ctx.Err() == nil {
		e.log.WarnContext(ctx, "read whether the automation is paused; sending", "run", x.run.ID, "err", err)
	}
	return err == nil && paused
}

// IdempotencyKey is the stable id of one step of one run, sent as
// Idempotency-Key and webhook-id on every attempt of that step.
func IdempotencyKey(runID, stepID string) string { return runID + "." + stepID }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
