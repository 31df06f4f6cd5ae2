package autohook

import (
	"context"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/record"
)

// Service is every operation the adapters call, one interface per concept.
// internal/service implements it; the API and the web UI take it, so that
// they depend on this contract alone.
//
// Every method is scoped by the organisation it is given (orgID, or the
// Principal's), which the caller takes from the authenticated API key or
// web session, never from input: an object of another organisation is
// ErrNotFound. Errors are this package's sentinels (wrapped with context),
// *problem.Error for input that fails validation (each problem naming its
// path) and *strictjson.SyntaxError for malformed JSON; anything else is
// the server's fault.
type Service interface {
	CollectionService
	RecordService
	AutomationService
	RunService
	ConfigService
	SecretService
	AccessService
	SessionService
	PeopleService
	AuditService
	AlertService
}

// CollectionService manages collections: their fields and stages.
type CollectionService interface {
	// CreateCollection adds a collection (ErrConflict: the key is taken).
	CreateCollection(ctx context.Context, orgID string, c *record.Collection) error
	// UpdateCollection replaces a collection's name, fields and stages;
	// its key stays, and records keep their values.
	UpdateCollection(ctx context.Context, orgID string, c *record.Collection) error
	// DeleteCollection deletes a collection and its records; ErrConflict
	// while an automation uses it.
	DeleteCollection(ctx context.Context, orgID, key string) error
	Collection(ctx context.Context, orgID, key string) (*record.Collection, error)
	Collections(ctx context.Context, orgID string, page Page) ([]*record.Collection, string, error)
}

// RecordService writes and reads records. A write and the runs it
// triggers are committed together.
type RecordService interface {
	CreateRecord(ctx context.Context, orgID, collection string, in RecordInput) (*record.Record, error)
	// UpdateRecord changes some fields and/or the stage; ErrConflict when
	// in.Version is given and the record is at another.
	UpdateRecord(ctx context.Context, orgID, collection, id string, in RecordInput) (*record.Record, error)
	DeleteRecord(ctx context.Context, orgID, collection, id string) error
	Record(ctx context.Context, orgID, collection, id string) (*record.Record, error)
	// Records lists a collection's records, newest first (ErrBadInput: a
	// malformed cursor).
	Records(ctx context.Context, orgID, collection string, f RecordFilter, page Page) ([]*record.Record, string, error)
	// RecordActions lists the enabled manual automations of the record's
	// collection: its menu.
	RecordActions(ctx context.Context, orgID, collection, id string) ([]Action, error)
}

// AutomationService saves, reads, versions and tries automations.
type AutomationService interface {
	// SaveAutomation creates (a.ID == "") or saves a new version; the
	// document comes back with its signing secret redacted, with the
	// warnings of a successful save.
	SaveAutomation(ctx context.Context, orgID string, a *automation.Automation) (*automation.Automation, []problem.Problem, error)
	Automation(ctx context.Context, orgID, id string) (*automation.Automation, error)
	Automations(ctx context.Context, orgID string, f AutomationFilter, page Page) ([]*automation.Automation, string, error)
	// DeleteAutomation deletes an automation; its runs stay in history and
	// the waiting ones are cancelled.
	DeleteAutomation(ctx context.Context, orgID, id string) error
	AutomationVersions(ctx context.Context, orgID, id string, page Page) ([]*AutomationVersion, string, error)
	AutomationVersion(ctx context.Context, orgID, id string, n int64) (*AutomationVersion, error)
	// ResumeAutomation makes a paused automation active again (its failure
	// streak reset); resuming one that is not paused changes nothing. The
	// automation comes back as Automation returns it.
	ResumeAutomation(ctx context.Context, orgID, id string) (*automation.Automation, error)
	// RestoreVersion saves a new version equal to version n.
	RestoreVersion(ctx context.Context, orgID, id string, n int64) (*automation.Automation, []problem.Problem, error)
	// TestAutomation shows what each step would do for a record, without
	// saving or writing anything (and sends only with in.Send).
	TestAutomation(ctx context.Context, orgID string, in TestInput) (*TestResult, []problem.Problem, error)
}

// RunService starts, reads, retries and cancels runs.
type RunService interface {
	// StartRun runs an automation on one record now; ErrConflict when it
	// is disabled or its condition does not hold.
	StartRun(ctx context.Context, orgID, automationID, recordID string) (*automation.Run, error)
	// Run returns a run with every attempt.
	Run(ctx context.Context, orgID, id string) (*automation.Run, error)
	// Runs lists runs, newest first, without their attempts.
	Runs(ctx context.Context, orgID string, f RunFilter, page Page) ([]*automation.Run, string, error)
	// CountRuns counts the runs that match f, up to limit (the Runs page
	// says how many a bulk retry takes).
	CountRuns(ctx context.Context, orgID string, f RunFilter, limit int) (int, error)
	// RetryRun continues a failed or cancelled run (else ErrConflict); the
	// run comes back as Run returns it.
	RetryRun(ctx context.Context, orgID, id string) (*automation.Run, error)
	// RetryRuns retries, in one transaction, a bounded number of the runs
	// that match f (f.Status failed or skipped, else a validation error):
	// how many, and whether more matched.
	RetryRuns(ctx context.Context, orgID string, f RunFilter) (retried int, more bool, err error)
	// CancelRun cancels a run that has not finished (else ErrConflict); the
	// run comes back as Run returns it.
	CancelRun(ctx context.Context, orgID, id string) (*automation.Run, error)
	// RunStats counts each automation's succeeded and failed runs created
	// since then, in n equal buckets up to now, by automation id.
	RunStats(ctx context.Context, orgID string, since time.Time, n int) (map[string]*RunStats, error)
	// RunSteps describes the steps of the automation version a run
	// follows, by step id.
	RunSteps(ctx context.Context, orgID string, run *automation.Run) (map[string]RunStep, error)
}

// ConfigService exports and imports an organisation's configuration.
type ConfigService interface {
	// Export returns the configuration as one document (ExportDocument).
	Export(ctx context.Context, orgID string) ([]byte, error)
	// Import plans a file against the organisation and, unless
	// opts.DryRun, applies it in one transaction.
	Import(ctx context.Context, orgID string, f *ImportFile, opts ImportOptions) (*ImportResult, error)
}

// SecretService keeps an organisation's secrets, sealed at rest; their
// values never come back.
type SecretService interface {
	PutSecret(ctx context.Context, orgID, name, value string) error
	Secrets(ctx context.Context, orgID string) ([]Secret, error)
	DeleteSecret(ctx context.Context, orgID, name string) error
}

// AccessService authenticates API keys and manages keys and organisations.
type AccessService interface {
	// Authenticate returns the principal of an API key; ErrUnauthorized
	// for an unknown or revoked key.
	Authenticate(ctx context.Context, key string) (*Principal, error)
	// CreateAPIKey creates a key with a role ("" is RoleOwner).
	CreateAPIKey(ctx context.Context, orgID, name string, role Role) (*CreatedKey, error)
	APIKeys(ctx context.Context, orgID string, page Page) ([]*APIKey, string, error)
	RevokeAPIKey(ctx context.Context, orgID, id string) error
	// CreateOrganisation and Organisations are the instance admin's
	// (else ErrForbidden).
	CreateOrganisation(ctx context.Context, p *Principal, name string) (*CreatedOrganisation, error)
	Organisations(ctx context.Context, p *Principal, page Page) ([]*Organisation, string, error)
}

// SessionService signs people in to the web UI.
type SessionService interface {
	// SignIn checks a login and password and starts a session: its id (for
	// the cookie) and the session. ErrUnauthorized for a wrong login or
	// password, without saying which.
	SignIn(ctx context.Context, login, password string) (string, *WebSession, error)
	// Session returns the session of an id; ErrUnauthorized when it is
	// unknown or expired.
	Session(ctx context.Context, id string) (*WebSession, error)
	SignOut(ctx context.Context, id string) error
	// ChangePassword changes the signed-in user's own password (the
	// actor's); ErrUnauthorized when current is not right. Other sessions
	// of the user end; the one of keepSession (a session id) stays.
	ChangePassword(ctx context.Context, orgID, current, password, keepSession string) error
	// SignOutEverywhere ends every session of the signed-in user (the
	// actor's).
	SignOutEverywhere(ctx context.Context, orgID string) error
}

// PeopleService manages the people of an organisation and invitations.
type PeopleService interface {
	// CreateInvitation invites email with role, for InvitationTTL.
	CreateInvitation(ctx context.Context, orgID, email string, role Role) (*CreatedInvitation, error)
	// Invitation returns the invitation of a token that can still be
	// accepted; ErrNotFound otherwise (unknown, used or expired).
	Invitation(ctx context.Context, token string) (*Invitation, error)
	// AcceptInvitation creates the invited user with a name and password
	// and uses the invitation up; ErrNotFound as Invitation.
	AcceptInvitation(ctx context.Context, token string, in Acceptance) (*User, error)
	Users(ctx context.Context, orgID string, page Page) ([]*User, string, error)
	// SetUserRole changes a user's role; ErrConflict when it would leave
	// the organisation without an owner.
	SetUserRole(ctx context.Context, orgID, id string, role Role) (*User, error)
	// RemoveUser deletes a user and ends their sessions at once;
	// ErrConflict for the last owner.
	RemoveUser(ctx context.Context, orgID, id string) error
}

// AuditService reads the audit log.
type AuditService interface {
	// Audit lists entries, newest first (ErrBadInput: a malformed cursor).
	Audit(ctx context.Context, orgID string, f AuditFilter, page Page) ([]*AuditEntry, string, error)
}

// MaxBulkRetry bounds the runs one bulk retry (RetryRuns) retries; the
// answer says whether more matched.
const MaxBulkRetry = 1000
