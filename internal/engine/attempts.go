package engine

// MaxAttempts is how many attempts a call_api step whose maxAttempts is
// stepMax gets before its run fails: stepMax, or the node's default when it
// is 0.
func (e *Engine) MaxAttempts(stepMax int) int {
	if stepMax > 0 {
		return stepMax
	}
	return e.cfg.DefaultMaxAttempts
}
