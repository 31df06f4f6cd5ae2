// Package metrics provides Autohook's Prometheus metrics: runs started and
// finished, attempts by failure class, request duration, the latency from a
// trigger to its first request, conditions that were false, and the queue's
// depth read at scrape time.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/retry"
)

// Metrics holds one node's metrics in its own registry (several nodes can
// live in one process, as in tests and the bench).
type Metrics struct {
	reg            *prometheus.Registry
	runsStarted    prometheus.Counter
	runsFinished   *prometheus.CounterVec
	runsRetrying   prometheus.Counter
	attempts       *prometheus.CounterVec
	requestSeconds prometheus.Histogram
	triggerLatency prometheus.Histogram
	conditionFalse prometheus.Counter
	runsFailed     *prometheus.CounterVec
	pauses         prometheus.Counter
	alerts         *prometheus.CounterVec
}

// QueueCounter reports how many queue jobs are in each state, and how many
// automations are paused.
type QueueCounter interface {
	CountJobsByState(ctx context.Context) (map[string]int, error)
	CountPausedAutomations(ctx context.Context) (int, error)
}

// New returns metrics registered in a fresh registry, with Go and process
// collectors and a queue collector reading q at scrape time.
func New(q QueueCounter, log *slog.Logger) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		runsStarted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "autohook_runs_started_total", Help: "Runs whose first step started.",
		}),
		runsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "autohook_runs_finished_total", Help: "Runs that finished, by final status (succeeded, failed, skipped).",
		}, []string{"status"}),
		runsRetrying: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "autohook_runs_retry_scheduled_total", Help: "Times a run was set to wait for a retry.",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "autohook_attempts_total", Help: "Call API attempts, by outcome: ok or the failure class.",
		}, []string{"class"}),
		requestSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "autohook_request_duration_seconds", Help: "Duration of Call API requests, from sending to the end of the response body.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}),
		triggerLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "autohook_trigger_to_request_seconds", Help: "Time from a trigger (a record's commit, a due time) to its run's first request.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		conditionFalse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "autohook_condition_false_total", Help: "Record changes that matched an automation whose condition was false (no run created).",
		}),
		runsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "autohook_runs_failed_total", Help: "Runs that ended failed, by the class of the error that failed them.",
		}, []string{"class"}),
		pauses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "autohook_automation_pauses_total", Help: "Times an automation was paused by its runs failing in a row (pauseAfterFailures).",
		}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "autohook_alerts_total", Help: "Alert deliveries, by channel type (webhook, email) and outcome (sent, failed: given up after retries).",
		}, []string{"type", "outcome"}),
	}
	m.reg.MustRegister(m.runsStarted, m.runsFinished, m.runsRetrying, m.attempts, m.requestSeconds, m.triggerLatency, m.conditionFalse,
		m.runsFailed, m.pauses, m.alerts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&queueCollector{q: q, log: log})
	for _, s := range []automation.Status{automation.StatusSucceeded, automation.StatusFailed} {
		m.runsFinished.WithLabelValues(string(s))
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// RunStarted counts a run whose first step started.
func (m *Metrics) RunStarted() { m.runsStarted.Inc() }

// RunFinished counts a finished run.
func (m *Metrics) RunFinished(s automation.Status) { m.runsFinished.WithLabelValues(string(s)).Inc() }

// RunFailed counts a run that ended failed, by its error's class (a
// bounded set: retry.Classes).
func (m *Metrics) RunFailed(c retry.Class) { m.runsFailed.WithLabelValues(string(c)).Inc() }

// AutomationPaused counts an automation paused by its failures.
func (m *Metrics) AutomationPaused() { m.pauses.Inc() }

// Alert counts an alert delivery: typ is the channel type, outcome "sent"
// or "failed".
func (m *Metrics) Alert(typ, outcome string) { m.alerts.WithLabelValues(typ, outcome).Inc() }

// RunRetrying counts a retry being scheduled.
func (m *Metrics) RunRetrying() { m.runsRetrying.Inc() }

// Attempt counts a Call API attempt (class "" is a success) and its duration.
func (m *Metrics) Attempt(class retry.Class, d time.Duration) {
	label := string(class)
	if label == "" {
		label = "ok"
	}
	m.attempts.WithLabelValues(label).Inc()
	if d > 0 {
		m.requestSeconds.Observe(d.Seconds())
	}
}

// FirstRequest records the latency from a trigger to its first request.
func (m *Metrics) FirstRequest(d time.Duration) {
	if d >= 0 {
		m.triggerLatency.Observe(d.Seconds())
	}
}

// ConditionFalse counts a change whose automation's condition was false.
func (m *Metrics) ConditionFalse(string) { m.conditionFalse.Inc() }

// queueCollector reads the queue's depth when scraped.
type queueCollector struct {
	q   QueueCounter
	log *slog.Logger
}

var (
	queueDesc  = prometheus.NewDesc("autohook_queue_jobs", "Queue jobs by state (available: waiting for a worker; scheduled: runs waiting to retry; running).", []string{"state"}, nil)
	retryDesc  = prometheus.NewDesc("autohook_runs_waiting_retry", "Runs waiting for their next attempt.", nil, nil)
	pausedDesc = prometheus.NewDesc("autohook_automations_paused", "Automations paused by their failures (pauseAfterFailures), every organisation.", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDesc
	ch <- retryDesc
	ch <- pausedDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.q.CountJobsByState(ctx)
	if err != nil {
		c.log.Warn("metrics: count queue jobs", "err", err)
		return
	}
	for _, s := range []string{"available", "scheduled", "running", "retryable"} {
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(counts[s]), s)
	}
	ch <- prometheus.MustNewConstMetric(retryDesc, prometheus.GaugeValue, float64(counts["scheduled"]))
	paused, err := c.q.CountPausedAutomations(ctx)
	if err != nil {
		c.log.Warn("metrics: count paused automations", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(pausedDesc, prometheus.GaugeValue, float64(paused))
}
