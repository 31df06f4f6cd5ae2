package engine

// MaxAttempts is how many attempts a call_api step whose maxAttempts is
// stepMax gets before its run fails: stepMax, or the node's default when it
// is 0. The run page counts attempts with it ("attempt 3 of 3").
func (e *Engine) MaxAttempts(stepMax int) int {
	return e.policy().attempts(stepMax)
}

// attempts is a step's attempts: its own maxAttempts, else the policy's.
func (p policy) attempts(stepMax int) int {
	if stepMax > 0 {
		return stepMax
	}
	return p.MaxAttempts
}
