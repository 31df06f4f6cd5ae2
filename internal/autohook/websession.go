package autohook

import (
	"crypto/subtle"
	"time"
)

// SessionTTL is how long a web UI session lasts.
const SessionTTL = 12 * time.Hour

// AdminLogin is the login of the web UI admin created on first start.
const AdminLogin = "admin"

// WebSession is a signed-in browser: who, which organisation, and the token
// its forms must carry.
type WebSession struct {
	Principal
	User      *User
	CSRF      string
	ExpiresAt time.Time
}

// CheckCSRF reports whether token is the session's CSRF token.
func (ws *WebSession) CheckCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(ws.CSRF)) == 1
}
