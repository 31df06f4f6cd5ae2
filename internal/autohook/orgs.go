package autohook

import "time"

// Organisation is a tenant: everything else belongs to exactly one.
type Organisation struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// APIKey is an API key's stored form; the key itself is only ever known to
// whoever created it (the store keeps its SHA-256).
type APIKey struct {
	ID            string     `json:"id"`
	OrgID         string     `json:"-"`
	Name          string     `json:"name"`
	Prefix        string     `json:"prefix"`
	Role          Role       `json:"role"`
	InstanceAdmin bool       `json:"instanceAdmin,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
	LastUsedAt    *time.Time `json:"lastUsedAt"`
	RevokedAt     *time.Time `json:"revokedAt,omitempty"`
}

// User is a person who signs in to the web UI.
type User struct {
	ID           string    `json:"id"`
	OrgID        string    `json:"-"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	Role         Role      `json:"role"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"createdAt"`
}

// Session is a signed-in browser. The store keeps the SHA-256 of the
// session id, never the id itself.
type Session struct {
	UserID    string
	OrgID     string
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Secret is a stored secret's name and times; its value is sealed and never
// leaves the store except to the engine, which opens it for a run.
type Secret struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}
