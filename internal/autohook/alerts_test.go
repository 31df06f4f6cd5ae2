package autohook_test

import (
	"testing"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
)

func TestAlertSentence(t *testing.T) {
	t.Parallel()
	run := &autohook.AlertRun{ID: "run_1", Error: &automation.AttemptError{Class: "http_4xx", Message: "the receiver answered 401"}}
	crm := autohook.AlertRef{ID: "aut_1", Name: "Sync CRM"}
	tests := []struct {
		ev   autohook.AlertEvent
		want string
	}{
		{autohook.AlertEvent{Event: autohook.EventAutomationPaused, Automation: crm, Run: run, Count: 20},
			`Automation "Sync CRM" was paused after 20 runs in a row failed; its triggers now record skipped runs until it is resumed. The last error: http_4xx the receiver answered 401.`},
		{autohook.AlertEvent{Event: autohook.EventAutomationResumed, Automation: crm}, `Automation "Sync CRM" was resumed and runs again.`},
		{autohook.AlertEvent{Event: autohook.EventRunFailed, Automation: crm, Run: run, Count: 1}, `Automation "Sync CRM": a run failed. The last error: http_4xx the receiver answered 401.`},
		{autohook.AlertEvent{Event: autohook.EventRunFailed, Automation: crm, Run: run, Count: 7}, `Automation "Sync CRM": 7 runs failed since the last alert. The last error: http_4xx the receiver answered 401.`},
		{autohook.AlertEvent{Event: autohook.EventRunFailed, Automation: autohook.AlertRef{ID: "aut_2"}, Count: 1}, `Automation "aut_2": a run failed.`},
		{autohook.AlertEvent{Event: autohook.EventTest}, "A test alert from Autohook: this channel works."},
	}
	for _, tc := range tests {
		if got := tc.ev.Sentence(); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.ev.Event, got, tc.want)
		}
	}
}

func TestSuccessRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    autohook.RunStats
		want int
	}{{autohook.RunStats{}, -1}, {autohook.RunStats{Succeeded: 3}, 100}, {autohook.RunStats{Succeeded: 2, Failed: 1}, 66}, {autohook.RunStats{Failed: 4}, 0}} {
		if got := tc.s.SuccessRate(); got != tc.want {
			t.Errorf("%+v: %d, want %d", tc.s, got, tc.want)
		}
	}
}
