package autohook

import (
	"context"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/record"
)

// Authorize returns s with MinRole enforced on every operation: the one
// place where roles are checked, for every adapter that takes a Service
// (the API and the web UI are given the authorized service). A call the
// actor's role may not make answers a *ForbiddenError (ErrForbidden) and
// never reaches s. authorized implements every method itself (it embeds
// nothing), so a new operation of Service does not compile until it is
// guarded here too.
func Authorize(s Service) Service { return authorized{s} }

type authorized struct{ s Service }

var _ Service = authorized{}

func (g authorized) CreateCollection(ctx context.Context, orgID string, c *record.Collection) (err error) {
	if err = Allowed(ctx, "CreateCollection"); err != nil {
		return
	}
	return g.s.CreateCollection(ctx, orgID, c)
}

func (g authorized) UpdateCollection(ctx context.Context, orgID string, c *record.Collection) (err error) {
	if err = Allowed(ctx, "UpdateCollection"); err != nil {
		return
	}
	return g.s.UpdateCollection(ctx, orgID, c)
}

func (g authorized) DeleteCollection(ctx context.Context, orgID, key string) (err error) {
	if err = Allowed(ctx, "DeleteCollection"); err != nil {
		return
	}
	return g.s.DeleteCollection(ctx, orgID, key)
}

func (g authorized) Collection(ctx context.Context, orgID, key string) (r0 *record.Collection, err error) {
	if err = Allowed(ctx, "Collection"); err != nil {
		return
	}
	return g.s.Collection(ctx, orgID, key)
}

func (g authorized) Collections(ctx context.Context, orgID string, page Page) (r0 []*record.Collection, r1 string, err error) {
	if err = Allowed(ctx, "Collections"); err != nil {
		return
	}
	return g.s.Collections(ctx, orgID, page)
}

func (g authorized) CreateRecord(ctx context.Context, orgID, collection string, in RecordInput) (r0 *record.Record, err error) {
	if err = Allowed(ctx, "CreateRecord"); err != nil {
		return
	}
	return g.s.CreateRecord(ctx, orgID, collection, in)
}

func (g authorized) UpdateRecord(ctx context.Context, orgID, collection, id string, in RecordInput) (r0 *record.Record, err error) {
	if err = Allowed(ctx, "UpdateRecord"); err != nil {
		return
	}
	return g.s.UpdateRecord(ctx, orgID, collection, id, in)
}

func (g authorized) DeleteRecord(ctx context.Context, orgID, collection, id string) (err error) {
	if err = Allowed(ctx, "DeleteRecord"); err != nil {
		return
	}
	return g.s.DeleteRecord(ctx, orgID, collection, id)
}

func (g authorized) Record(ctx context.Context, orgID, collection, id string) (r0 *record.Record, err error) {
	if err = Allowed(ctx, "Record"); err != nil {
		return
	}
	return g.s.Record(ctx, orgID, collection, id)
}

func (g authorized) Records(ctx context.Context, orgID, collection string, f RecordFilter, page Page) (r0 []*record.Record, r1 string, err error) {
	if err = Allowed(ctx, "Records"); err != nil {
		return
	}
	return g.s.Records(ctx, orgID, collection, f, page)
}

func (g authorized) RecordActions(ctx context.Context, orgID, collection, id string) (r0 []Action, err error) {
	if err = Allowed(ctx, "RecordActions"); err != nil {
		return
	}
	return g.s.RecordActions(ctx, orgID, collection, id)
}

func (g authorized) SaveAutomation(ctx context.Context, orgID string, a *automation.Automation) (r0 *automation.Automation, r1 []problem.Problem, err error) {
	if err = Allowed(ctx, "SaveAutomation"); err != nil {
		return
	}
	return g.s.SaveAutomation(ctx, orgID, a)
}

func (g authorized) Automation(ctx context.Context, orgID, id string) (r0 *automation.Automation, err error) {
	if err = Allowed(ctx, "Automation"); err != nil {
		return
	}
	return g.s.Automation(ctx, orgID, id)
}

func (g authorized) Automations(ctx context.Context, orgID string, f AutomationFilter, page Page) (r0 []*automation.Automation, r1 string, err error) {
	if err = Allowed(ctx, "Automations"); err != nil {
		return
	}
	return g.s.Automations(ctx, orgID, f, page)
}

func (g authorized) DeleteAutomation(ctx context.Context, orgID, id string) (err error) {
	if err = Allowed(ctx, "DeleteAutomation"); err != nil {
		return
	}
	return g.s.DeleteAutomation(ctx, orgID, id)
}

func (g authorized) AutomationVersions(ctx context.Context, orgID, id string, page Page) (r0 []*AutomationVersion, r1 string, err error) {
	if err = Allowed(ctx, "AutomationVersions"); err != nil {
		return
	}
	return g.s.AutomationVersions(ctx, orgID, id, page)
}

func (g authorized) AutomationVersion(ctx context.Context, orgID, id string, n int64) (r0 *AutomationVersion, err error) {
	if err = Allowed(ctx, "AutomationVersion"); err != nil {
		return
	}
	return g.s.AutomationVersion(ctx, orgID, id, n)
}

func (g authorized) RestoreVersion(ctx context.Context, orgID, id string, n int64) (r0 *automation.Automation, r1 []problem.Problem, err error) {
	if err = Allowed(ctx, "RestoreVersion"); err != nil {
		return
	}
	return g.s.RestoreVersion(ctx, orgID, id, n)
}

func (g authorized) TestAutomation(ctx context.Context, orgID string, in TestInput) (r0 *TestResult, r1 []problem.Problem, err error) {
	if err = Allowed(ctx, "TestAutomation"); err != nil {
		return
	}
	return g.s.TestAutomation(ctx, orgID, in)
}

func (g authorized) StartRun(ctx context.Context, orgID, automationID, recordID string) (r0 *automation.Run, err error) {
	if err = Allowed(ctx, "StartRun"); err != nil {
		return
	}
	return g.s.StartRun(ctx, orgID, automationID, recordID)
}

func (g authorized) Run(ctx context.Context, orgID, id string) (r0 *automation.Run, err error) {
	if err = Allowed(ctx, "Run"); err != nil {
		return
	}
	return g.s.Run(ctx, orgID, id)
}

func (g authorized) Runs(ctx context.Context, orgID string, f RunFilter, page Page) (r0 []*automation.Run, r1 string, err error) {
	if err = Allowed(ctx, "Runs"); err != nil {
		return
	}
	return g.s.Runs(ctx, orgID, f, page)
}

func (g authorized) RetryRun(ctx context.Context, orgID, id string) (r0 *automation.Run, err error) {
	if err = Allowed(ctx, "RetryRun"); err != nil {
		return
	}
	return g.s.RetryRun(ctx, orgID, id)
}

func (g authorized) CancelRun(ctx context.Context, orgID, id string) (r0 *automation.Run, err error) {
	if err = Allowed(ctx, "CancelRun"); err != nil {
		return
	}
	return g.s.CancelRun(ctx, orgID, id)
}

func (g authorized) RunSteps(ctx context.Context, orgID string, run *automation.Run) (r0 map[string]RunStep, err error) {
	if err = Allowed(ctx, "RunSteps"); err != nil {
		return
	}
	return g.s.RunSteps(ctx, orgID, run)
}

func (g authorized) Export(ctx context.Context, orgID string) (r0 []byte, err error) {
	if err = Allowed(ctx, "Export"); err != nil {
		return
	}
	return g.s.Export(ctx, orgID)
}

func (g authorized) Import(ctx context.Context, orgID string, f *ImportFile, opts ImportOptions) (r0 *ImportResult, err error) {
	if err = Allowed(ctx, "Import"); err != nil {
		return
	}
	return g.s.Import(ctx, orgID, f, opts)
}

func (g authorized) PutSecret(ctx context.Context, orgID, name, value string) (err error) {
	if err = Allowed(ctx, "PutSecret"); err != nil {
		return
	}
	return g.s.PutSecret(ctx, orgID, name, value)
}

func (g authorized) Secrets(ctx context.Context, orgID string) (r0 []Secret, err error) {
	if err = Allowed(ctx, "Secrets"); err != nil {
		return
	}
	return g.s.Secrets(ctx, orgID)
}

func (g authorized) DeleteSecret(ctx context.Context, orgID, name string) (err error) {
	if err = Allowed(ctx, "DeleteSecret"); err != nil {
		return
	}
	return g.s.DeleteSecret(ctx, orgID, name)
}

func (g authorized) Authenticate(ctx context.Context, key string) (r0 *Principal, err error) {
	if err = Allowed(ctx, "Authenticate"); err != nil {
		return
	}
	return g.s.Authenticate(ctx, key)
}

func (g authorized) CreateAPIKey(ctx context.Context, orgID, name string, role Role) (r0 *CreatedKey, err error) {
	if err = Allowed(ctx, "CreateAPIKey"); err != nil {
		return
	}
	return g.s.CreateAPIKey(ctx, orgID, name, role)
}

func (g authorized) APIKeys(ctx context.Context, orgID string, page Page) (r0 []*APIKey, r1 string, err error) {
	if err = Allowed(ctx, "APIKeys"); err != nil {
		return
	}
	return g.s.APIKeys(ctx, orgID, page)
}

func (g authorized) RevokeAPIKey(ctx context.Context, orgID, id string) (err error) {
	if err = Allowed(ctx, "RevokeAPIKey"); err != nil {
		return
	}
	return g.s.RevokeAPIKey(ctx, orgID, id)
}

func (g authorized) CreateOrganisation(ctx context.Context, p *Principal, name string) (r0 *CreatedOrganisation, err error) {
	if err = Allowed(ctx, "CreateOrganisation"); err != nil {
		return
	}
	return g.s.CreateOrganisation(ctx, p, name)
}

func (g authorized) Organisations(ctx context.Context, p *Principal, page Page) (r0 []*Organisation, r1 string, err error) {
	if err = Allowed(ctx, "Organisations"); err != nil {
		return
	}
	return g.s.Organisations(ctx, p, page)
}

func (g authorized) SignIn(ctx context.Context, login, password string) (r0 string, r1 *WebSession, err error) {
	if err = Allowed(ctx, "SignIn"); err != nil {
		return
	}
	return g.s.SignIn(ctx, login, password)
}

func (g authorized) Session(ctx context.Context, id string) (r0 *WebSession, err error) {
	if err = Allowed(ctx, "Session"); err != nil {
		return
	}
	return g.s.Session(ctx, id)
}

func (g authorized) SignOut(ctx context.Context, id string) (err error) {
	if err = Allowed(ctx, "SignOut"); err != nil {
		return
	}
	return g.s.SignOut(ctx, id)
}

func (g authorized) ChangePassword(ctx context.Context, orgID, current, password, keepSession string) (err error) {
	if err = Allowed(ctx, "ChangePassword"); err != nil {
		return
	}
	return g.s.ChangePassword(ctx, orgID, current, password, keepSession)
}

func (g authorized) SignOutEverywhere(ctx context.Context, orgID string) (err error) {
	if err = Allowed(ctx, "SignOutEverywhere"); err != nil {
		return
	}
	return g.s.SignOutEverywhere(ctx, orgID)
}

func (g authorized) CreateInvitation(ctx context.Context, orgID, email string, role Role) (r0 *CreatedInvitation, err error) {
	if err = Allowed(ctx, "CreateInvitation"); err != nil {
		return
	}
	return g.s.CreateInvitation(ctx, orgID, email, role)
}

func (g authorized) Invitation(ctx context.Context, token string) (r0 *Invitation, err error) {
	if err = Allowed(ctx, "Invitation"); err != nil {
		return
	}
	return g.s.Invitation(ctx, token)
}

func (g authorized) AcceptInvitation(ctx context.Context, token string, in Acceptance) (r0 *User, err error) {
	if err = Allowed(ctx, "AcceptInvitation"); err != nil {
		return
	}
	return g.s.AcceptInvitation(ctx, token, in)
}

func (g authorized) Users(ctx context.Context, orgID string, page Page) (r0 []*User, r1 string, err error) {
	if err = Allowed(ctx, "Users"); err != nil {
		return
	}
	return g.s.Users(ctx, orgID, page)
}

func (g authorized) SetUserRole(ctx context.Context, orgID, id string, role Role) (r0 *User, err error) {
	if err = Allowed(ctx, "SetUserRole"); err != nil {
		return
	}
	return g.s.SetUserRole(ctx, orgID, id, role)
}

func (g authorized) RemoveUser(ctx context.Context, orgID, id string) (err error) {
	if err = Allowed(ctx, "RemoveUser"); err != nil {
		return
	}
	return g.s.RemoveUser(ctx, orgID, id)
}

func (g authorized) Audit(ctx context.Context, orgID string, f AuditFilter, page Page) (r0 []*AuditEntry, r1 string, err error) {
	if err = Allowed(ctx, "Audit"); err != nil {
		return
	}
	return g.s.Audit(ctx, orgID, f, page)
}
