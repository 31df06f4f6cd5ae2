package autohook

import (
	"encoding/json"
	"strings"
	"time"
)

// InvitationTTL is how long an invitation can be accepted.
const InvitationTTL = 7 * 24 * time.Hour

// Invitation asks someone to join an organisation with a role. The store
// keeps the SHA-256 of its token, never the token; it can be accepted once,
// before it expires.
type Invitation struct {
	ID        string     `json:"id"`
	OrgID     string     `json:"-"`
	Email     string     `json:"email"`
	Role      Role       `json:"role"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt time.Time  `json:"expiresAt"`
	UsedAt    *time.Time `json:"usedAt,omitempty"`
}

// CreatedInvitation is a new invitation with its token, which only its
// creator is shown: the adapters turn it into the invitation's URL
// (InvitationPath).
type CreatedInvitation struct {
	*Invitation
	Token string `json:"-"`
}

// Acceptance is what an invitee gives to accept an invitation: their name
// and password, and their email when the invitation names none (a new
// organisation's owner invitation).
type Acceptance struct {
	Email, Name, Password string
}

// InvitationPath is the web UI's page of an invitation token.
func InvitationPath(token string) string { return "/invitations/" + token }

// InvitationURL is the address of an invitation token's page: under
// publicURL (where people reach the server), else under the scheme and
// host a request came with.
func InvitationURL(publicURL, scheme, host, token string) string {
	base := publicURL
	if base == "" {
		base = scheme + "://" + host
	}
	return strings.TrimRight(base, "/") + InvitationPath(token)
}

// AuditTarget is what an audit entry's change was made to.
type AuditTarget struct {
	Type string `json:"type"` // automation, collection, secret, api_key, user, invitation, run, organisation
	ID   string `json:"id"`
	Name string `json:"name"`
}

// AuditEntry is one change in an organisation's audit log, written in the
// transaction of the change itself.
type AuditEntry struct {
	ID      string          `json:"id"`
	OrgID   string          `json:"-"`
	At      time.Time       `json:"at"`
	Actor   Actor           `json:"actor"`
	Action  string          `json:"action"`
	Target  AuditTarget     `json:"target"`
	Details json.RawMessage `json:"details"`
}

// AuditFilter narrows the audit log: entries at or after Since and before
// Until, of one action, by one actor (zero values: any).
type AuditFilter struct {
	Since, Until time.Time
	Action       string
	ActorID      string
}

// Audit actions. Stored names are stable.
const (
	AuditCollectionCreated       = "collection.created"
	AuditCollectionUpdated       = "collection.updated"
	AuditCollectionDeleted       = "collection.deleted"
	AuditAutomationCreated       = "automation.created"
	AuditAutomationUpdated       = "automation.updated"
	AuditAutomationPaused        = "automation.paused"
	AuditAutomationResumed       = "automation.resumed"
	AuditAutomationDeleted       = "automation.deleted"
	AuditAutomationRestored      = "automation.restored"
	AuditRunStarted              = "run.started"
	AuditRunRetried              = "run.retried"
	AuditRunCancelled            = "run.cancelled"
	AuditConfigImported          = "config.imported"
	AuditSecretPut               = "secret.put"
	AuditSecretDeleted           = "secret.deleted"
	AuditAPIKeyCreated           = "api_key.created"
	AuditAPIKeyRevoked           = "api_key.revoked"
	AuditOrganisationCreated     = "organisation.created"
	AuditInvitationCreated       = "invitation.created"
	AuditInvitationAccepted      = "invitation.accepted"
	AuditUserRoleChanged         = "user.role_changed"
	AuditUserRemoved             = "user.removed"
	AuditUserSignedIn            = "user.signed_in"
	AuditUserSignInFailed        = "user.sign_in_failed"
	AuditUserSignedOutEverywhere = "user.signed_out_everywhere"
	AuditUserPasswordChanged     = "user.password_changed"
	AuditAlertChannelCreated     = "alert_channel.created"
	AuditAlertChannelDeleted     = "alert_channel.deleted"
	AuditAlertChannelTested      = "alert_channel.tested"
)

// ActorSystem is the actor of a change made by the process itself (a tool,
// bootstrap), not by a request.
const ActorSystem = "system"
