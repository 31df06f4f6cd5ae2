package httpapi

import "time"

// Default per-key request rate: generous for scripts and integrations, low
// enough that one key cannot monopolise a node.
const (
	DefaultRateLimit = 100 // requests per second, per API key
	DefaultRateBurst = 200
)

// Failed authentications from one client address: DefaultAuthFailureBurst
// at once, then one every AuthFailureEvery. Past that the address is
// answered 429 without its key being looked at, so guessing a key (a short
// bootstrap key) gets nowhere; a right key from that address waits too.
const (
	DefaultAuthFailureBurst = 10
	AuthFailureEvery        = 6 * time.Second
)
