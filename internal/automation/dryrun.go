package automation

// TestStep is what one step would do in a dry run (a test of an automation
// against a record, nothing written): the request it renders, and when
// sent, the response and the fields it sets; Error when it stops there.
type TestStep struct {
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	Request  *HTTPRequest   `json:"request"`
	Response *HTTPResponse  `json:"response"`
	Fields   map[string]any `json:"fields"`
	Error    *AttemptError  `json:"error"`
	// Skipped: the step's if was false. Continued: it failed and has
	// onError "continue", so the test went on.
	Skipped   bool `json:"skipped,omitempty"`
	Continued bool `json:"continued,omitempty"`
}
