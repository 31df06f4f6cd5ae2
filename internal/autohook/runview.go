package autohook

import "github.com/autohook/autohook/internal/automation"

// TestResult is what a dry run shows: whether the automation's condition
// holds for the record (a run would start), and what each step would do.
// The steps are shown either way, so that a condition that excludes the
// record does not hide the requests.
type TestResult struct {
	ConditionMet bool `json:"conditionMet"`
	// ConditionError is why the condition could not be evaluated for the
	// record (a run would be recorded as failed); ConditionMet is false.
	ConditionError string                `json:"conditionError,omitempty"`
	Steps          []automation.TestStep `json:"steps"`
}

// RunStep is what the run page tells about one step of a run: the step as
// its automation version defines it, and how many attempts it gets.
type RunStep struct {
	Spec        automation.StepSpec
	MaxAttempts int // call_api: the attempts before the run fails
}
