package autohook

import (
	"context"
	"fmt"
)

// Role is what a person or an API key may do in its organisation. Stored
// names are stable.
type Role string

// Roles, from least to most.
const (
	// RoleViewer reads everything but secrets' names, API keys, users and
	// the audit log.
	RoleViewer Role = "viewer"
	// RoleEditor also changes collections, records and automations, and
	// starts, retries, cancels and tests runs.
	RoleEditor Role = "editor"
	// RoleOwner does everything in the organisation: secrets, API keys,
	// people and their roles, invitations, the audit log.
	RoleOwner Role = "owner"
)

// Roles lists the roles from least to most.
var Roles = []Role{RoleViewer, RoleEditor, RoleOwner}

func (r Role) rank() int {
	for i, x := range Roles {
		if x == r {
			return i + 1
		}
	}
	return 0
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r may do what min may.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.rank() >= min.rank() }

// anyone marks the operations that need no role: they authenticate
// (Authenticate, SignIn, Session, an invitation's page) or act on the
// caller's own account (SignOut, ChangePassword).
const anyone Role = ""

//go:generate go run ./authorizegen

// MinRole is the one table of who may do what: every operation of Service,
// by method name, and the least role that may call it. Authorize enforces
// it for the API and the web UI alike; TestMinRoleCoversService fails when
// an operation of Service has no entry, so a new operation cannot be added
// without deciding who may call it. Adding one is one line here.
var MinRole = map[string]Role{
	// CollectionService
	"CreateCollection": RoleEditor,
	"UpdateCollection": RoleEditor,
	"DeleteCollection": RoleEditor,
	"Collection":       RoleViewer,
	"Collections":      RoleViewer,
	// RecordService
	"CreateRecord":  RoleEditor,
	"UpdateRecord":  RoleEditor,
	"DeleteRecord":  RoleEditor,
	"Record":        RoleViewer,
	"Records":       RoleViewer,
	"RecordActions": RoleViewer,
	// AutomationService
	"SaveAutomation":     RoleEditor,
	"Automation":         RoleViewer,
	"Automations":        RoleViewer,
	"DeleteAutomation":   RoleEditor,
	"AutomationVersions": RoleViewer,
	"AutomationVersion":  RoleViewer,
	"RestoreVersion":     RoleEditor,
	"ResumeAutomation":   RoleEditor,
	"TestAutomation":     RoleEditor,
	// RunService
	"StartRun":  RoleEditor,
	"Run":       RoleViewer,
	"Runs":      RoleViewer,
	"CountRuns": RoleViewer,
	"RetryRun":  RoleEditor,
	"CancelRun": RoleEditor,
	"RunSteps":  RoleViewer,
	"RetryRuns": RoleEditor,
	"RunStats":  RoleViewer,
	// ConfigService
	"Export": RoleViewer,
	"Import": RoleEditor,
	// SecretService: editors see the names they reference in automations;
	// only owners change values.
	"PutSecret":    RoleOwner,
	"Secrets":      RoleEditor,
	"DeleteSecret": RoleOwner,
	// AccessService
	"Authenticate":       anyone,
	"CreateAPIKey":       RoleOwner,
	"APIKeys":            RoleOwner,
	"RevokeAPIKey":       RoleOwner,
	"CreateOrganisation": RoleOwner, // and the instance admin's key
	"Organisations":      RoleOwner, // and the instance admin's key
	// SessionService
	"SignIn":            anyone,
	"Session":           anyone,
	"SignOut":           anyone,
	"ChangePassword":    anyone, // one's own
	"SignOutEverywhere": anyone, // one's own
	// PeopleService
	"CreateInvitation": RoleOwner,
	"Invitation":       anyone, // by its secret token: the invitation page
	"AcceptInvitation": anyone, // by its secret token
	"Users":            RoleOwner,
	"SetUserRole":      RoleOwner,
	"RemoveUser":       RoleOwner,
	// AuditService
	"Audit": RoleOwner,
	// AlertService: a channel's URL (a Slack or Teams incoming webhook) is
	// a credential, so channels are the owners'; editors read what was
	// sent, as they read runs.
	"CreateAlertChannel": RoleOwner,
	"AlertChannels":      RoleOwner,
	"DeleteAlertChannel": RoleOwner,
	"TestAlertChannel":   RoleOwner,
	"Alerts":             RoleEditor,
}

// Allowed reports whether actor may call the operation op (a method of
// Service), by MinRole. A context without an actor is the process itself
// (a tool, a test, the bench): it may do everything, as before roles; the
// adapters always set one (WithActor). An operation missing from MinRole
// is refused, and so is an unknown role.
func Allowed(ctx context.Context, op string) error {
	min, ok := MinRole[op]
	if !ok {
		return fmt.Errorf("%w: the operation %s has no entry in autohook.MinRole", ErrForbidden, op)
	}
	a := ActorFrom(ctx)
	if min == anyone || a == nil {
		return nil
	}
	if !a.Role.AtLeast(min) {
		role := string(a.Role)
		if role == "" {
			role = "no role"
		}
		return &ForbiddenError{Op: op, Role: a.Role, Need: min, msg: fmt.Sprintf("this needs the %s role; %s %q has %s", min, actorNoun(a.Type), a.Name, role)}
	}
	return nil
}

func actorNoun(t string) string {
	if t == ActorAPIKey {
		return "the API key"
	}
	return "the user"
}

// ForbiddenError is a call refused by MinRole; it is ErrForbidden (403
// forbidden) and says which role the operation needs.
type ForbiddenError struct {
	Op   string
	Role Role // the caller's
	Need Role // the least the operation takes
	msg  string
}

func (e *ForbiddenError) Error() string { return e.msg }

// Unwrap makes it ErrForbidden.
func (e *ForbiddenError) Unwrap() error { return ErrForbidden }
