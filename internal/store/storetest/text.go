package storetest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/store"
)

// What the store answers text that no key, id or name can hold: a NUL
// byte, or bytes that are not UTF-8. PostgreSQL refuses to store or even
// compare such text; SQLite takes it. Both must answer alike, and never
// with an internal error: a key or filter holding it matches nothing, a
// cursor holding it is bad input, a value holding it is invalid (a
// validation problem); error messages the store keeps are made valid.
const (
	found    = "found or done"
	none     = "nothing found"
	notFound = "ErrNotFound"
	conflict = "ErrConflict"
	badInput = "ErrBadInput"
	invalid  = "a validation problem"
)

func outcome(err error) string {
	var perr *problem.Error
	switch {
	case err == nil:
		return found
	case errors.Is(err, store.ErrNotFound):
		return notFound
	case errors.Is(err, store.ErrConflict):
		return conflict
	case errors.Is(err, store.ErrBadInput):
		return badInput
	case errors.As(err, &perr):
		return invalid
	}
	return fmt.Sprintf("an internal error: %v", err)
}

// listed is the outcome of a list: none when it is empty.
func listed[T any](items []T, err error) string {
	if err == nil && len(items) == 0 {
		return none
	}
	return outcome(err)
}

func testNULAndInvalidUTF8(t *testing.T, s *suite) {
	for _, bad := range []struct{ name, text string }{{"NUL", "a\x00b"}, {"InvalidUTF8", "a\xff\xfeb"}} {
		t.Run(bad.name, func(t *testing.T) { testBadText(t, s, bad.text) })
	}
}

func testBadText(t *testing.T, s *suite, b string) {
	ctx := context.Background()
	st := s.shared
	org := newOrg(t, st)
	newCollection(t, st, org)
	rec := newRecord(t, st, org, map[string]any{"name": "Ada"})
	aut := newAutomation(t, st, org, callAPI("a", automation.Manual))
	run := newRun(t, st, org, rec.ID)
	cursor := base64.RawURLEncoding.EncodeToString([]byte(b))

	type check struct {
		name string
		want string
		do   func(ctx context.Context, tx *store.Tx) string
	}
	type readCheck struct {
		name string
		want string
		do   func(ctx context.Context, r reader) string
	}
	// Reads, on the read pool and inside a transaction alike.
	reads := []readCheck{
		{"Collection key", notFound, func(ctx context.Context, tx reader) string { _, err := tx.Collection(ctx, org, b); return outcome(err) }},
		{"Collection org", notFound, func(ctx context.Context, tx reader) string {
			_, err := tx.Collection(ctx, b, "leads")
			return outcome(err)
		}},
		{"Record id", notFound, func(ctx context.Context, tx reader) string {
			_, err := tx.Record(ctx, org, "leads", "rec_"+b)
			return outcome(err)
		}},
		{"Record collection", notFound, func(ctx context.Context, tx reader) string {
			_, err := tx.Record(ctx, org, b, rec.ID)
			return outcome(err)
		}},
		{"RecordByID", notFound, func(ctx context.Context, tx reader) string { _, err := tx.RecordByID(ctx, org, b); return outcome(err) }},
		{"Automation", notFound, func(ctx context.Context, tx reader) string { _, err := tx.Automation(ctx, org, b); return outcome(err) }},
		{"AutomationAt", notFound, func(ctx context.Context, tx reader) string {
			_, err := tx.AutomationAt(ctx, org, b, 1)
			return outcome(err)
		}},
		{"Run", notFound, func(ctx context.Context, tx reader) string { _, err := tx.Run(ctx, org, b); return outcome(err) }},
		{"RunWithAttempts", notFound, func(ctx context.Context, tx reader) string {
			_, err := tx.RunWithAttempts(ctx, b, run.ID)
			return outcome(err)
		}},
		{"User", notFound, func(ctx context.Context, tx reader) string { _, err := tx.User(ctx, org, b); return outcome(err) }},
		{"UserByEmail", notFound, func(ctx context.Context, tx reader) string { _, err := tx.UserByEmail(ctx, b); return outcome(err) }},
		{"APIKeyByHash", notFound, func(ctx context.Context, tx reader) string { _, err := tx.APIKeyByHash(ctx, b); return outcome(err) }},
		{"SessionByHash", notFound, func(ctx context.Context, tx reader) string {
			_, err := tx.SessionByHash(ctx, b, time.Now())
			return outcome(err)
		}},
		{"Records stage", none, func(ctx context.Context, tx reader) string {
			return listed(page(tx.Records(ctx, org, "leads", store.RecordFilter{Stage: b}, store.Page{})))
		}},
		{"Records collection", none, func(ctx context.Context, tx reader) string {
			return listed(page(tx.Records(ctx, org, b, store.RecordFilter{}, store.Page{})))
		}},
		{"Runs filters", none, func(ctx context.Context, tx reader) string {
			return listed(page(tx.Runs(ctx, org, store.RunFilter{RecordID: b, AutomationID: b, Status: automation.Status(b)}, store.Page{})))
		}},
		{"Runs record", none, func(ctx context.Context, tx reader) string {
			return listed(page(tx.Runs(ctx, org, store.RunFilter{RecordID: b}, store.Page{})))
		}},
		{"Automations filters", none, func(ctx context.Context, tx reader) string {
			return listed(page(tx.Automations(ctx, org, store.AutomationFilter{Collection: b, TriggerType: b}, store.Page{})))
		}},
		{"EnabledAutomations", none, func(ctx context.Context, tx reader) string {
			return listed(tx.EnabledAutomations(ctx, org, b, b, automation.Manual))
		}},
		{"Collections org", none, func(ctx context.Context, tx reader) string {
			return listed(page(tx.Collections(ctx, b, store.Page{})))
		}},
		{"APIKeys org", none, func(ctx context.Context, tx reader) string { return listed(page(tx.APIKeys(ctx, b, store.Page{}))) }},
		{"Secrets org", none, func(ctx context.Context, tx reader) string { return listed(tx.Secrets(ctx, b)) }},
		{"SealedSecrets org", none, func(ctx context.Context, tx reader) string {
			m, err := tx.SealedSecrets(ctx, b)
			if err == nil && len(m) == 0 {
				return none
			}
			return outcome(err)
		}},
		{"Records cursor", badInput, func(ctx context.Context, tx reader) string {
			return outcome(third(tx.Records(ctx, org, "leads", store.RecordFilter{}, store.Page{Cursor: cursor})))
		}},
		{"Runs cursor", badInput, func(ctx context.Context, tx reader) string {
			return outcome(third(tx.Runs(ctx, org, store.RunFilter{}, store.Page{Cursor: cursor})))
		}},
		{"Collections cursor", badInput, func(ctx context.Context, tx reader) string {
			return outcome(third(tx.Collections(ctx, org, store.Page{Cursor: cursor})))
		}},
		{"Automations cursor", badInput, func(ctx context.Context, tx reader) string {
			return outcome(third(tx.Automations(ctx, org, store.AutomationFilter{}, store.Page{Cursor: cursor})))
		}},
		{"APIKeys cursor", badInput, func(ctx context.Context, tx reader) string {
			return outcome(third(tx.APIKeys(ctx, org, store.Page{Cursor: cursor})))
		}},
		{"Organisations cursor", badInput, func(ctx context.Context, tx reader) string {
			return outcome(third(tx.Organisations(ctx, store.Page{Cursor: cursor})))
		}},
	}
	// Writes whose keys hold such text: they match nothing.
	keyed := []check{
		{"RecordForUpdate", notFound, func(ctx context.Context, tx *store.Tx) string {
			_, err := tx.RecordForUpdate(ctx, org, "leads", b)
			return outcome(err)
		}},
		{"DeleteRecord", notFound, func(ctx context.Context, tx *store.Tx) string { return outcome(tx.DeleteRecord(ctx, org, "leads", b)) }},
		{"DeleteCollection", notFound, func(ctx context.Context, tx *store.Tx) string { return outcome(tx.DeleteCollection(ctx, org, b)) }},
		{"UpdateCollection key", notFound, func(ctx context.Context, tx *store.Tx) string {
			c := leads()
			c.Key = b
			return outcome(tx.UpdateCollection(ctx, org, c))
		}},
		{"DeleteAutomation", notFound, func(ctx context.Context, tx *store.Tx) string { return outcome(tx.DeleteAutomation(ctx, org, b)) }},
		{"SaveAutomation id", notFound, func(ctx context.Context, tx *store.Tx) string {
			d := callAPI("x", automation.Manual)
			d.ID = b
			return outcome(tx.SaveAutomation(ctx, org, d, ""))
		}},
		{"DeleteSecret", notFound, func(ctx context.Context, tx *store.Tx) string { return outcome(tx.DeleteSecret(ctx, org, b)) }},
		{"RevokeAPIKey", notFound, func(ctx context.Context, tx *store.Tx) string { return outcome(tx.RevokeAPIKey(ctx, org, b)) }},
		{"UpdateRecord id", conflict, func(ctx context.Context, tx *store.Tx) string {
			r := *rec
			r.ID = b
			return outcome(tx.UpdateRecord(ctx, org, &r))
		}},
		{"UpdateRun id", conflict, func(ctx context.Context, tx *store.Tx) string {
			r := *run
			r.ID = b
			return outcome(tx.UpdateRun(ctx, org, &r, r.Seq))
		}},
		{"MarkRunRunning", found, func(ctx context.Context, tx *store.Tx) string { return outcome(tx.MarkRunRunning(ctx, org, b, 1)) }},
		{"TouchAPIKey", found, func(ctx context.Context, tx *store.Tx) string { return outcome(tx.TouchAPIKey(ctx, b, time.Now())) }},
		{"DeleteSession", found, func(ctx context.Context, tx *store.Tx) string { return outcome(tx.DeleteSession(ctx, b)) }},
		{"DeleteDue", found, func(ctx context.Context, tx *store.Tx) string { return outcome(tx.DeleteDue(ctx, org, b, b)) }},
		{"DeleteDueOf", found, func(ctx context.Context, tx *store.Tx) string { return outcome(tx.DeleteDueOf(ctx, b, b)) }},
		{"DueValue", none, func(ctx context.Context, tx *store.Tx) string {
			_, ok, err := tx.DueValue(ctx, org, b, b)
			if err == nil && !ok {
				return none
			}
			return outcome(err)
		}},
		{"MarkDueBuilt", found, func(ctx context.Context, tx *store.Tx) string { return outcome(tx.MarkDueBuilt(ctx, org, b, 1)) }},
	}
	// Writes of values holding such text: invalid, and nothing written.
	valued := []check{
		{"CreateOrganisation", invalid, func(ctx context.Context, tx *store.Tx) string {
			_, err := tx.CreateOrganisation(ctx, "N"+b+"L")
			return outcome(err)
		}},
		{"CreateAPIKey name", invalid, func(ctx context.Context, tx *store.Tx) string {
			_, err := tx.CreateAPIKey(ctx, org, "ci"+b, "ahk_x", uniq("hash"), false, "owner")
			return outcome(err)
		}},
		{"CreateCollection key", invalid, func(ctx context.Context, tx *store.Tx) string {
			c := leads()
			c.Key = b
			return outcome(tx.CreateCollection(ctx, org, c))
		}},
		{"CreateCollection name", invalid, func(ctx context.Context, tx *store.Tx) string {
			c := leads()
			c.Key, c.Name = "named", b
			return outcome(tx.CreateCollection(ctx, org, c))
		}},
		{"UpdateCollection name", invalid, func(ctx context.Context, tx *store.Tx) string {
			c := leads()
			c.Name = b
			return outcome(tx.UpdateCollection(ctx, org, c))
		}},
		{"InsertRecord stage", invalid, func(ctx context.Context, tx *store.Tx) string {
			return outcome(tx.InsertRecord(ctx, org, &record.Record{Collection: "leads", Stage: b, Fields: map[string]any{}}))
		}},
		{"InsertRecord collection", invalid, func(ctx context.Context, tx *store.Tx) string {
			return outcome(tx.InsertRecord(ctx, org, &record.Record{Collection: b, Stage: "New", Fields: map[string]any{}}))
		}},
		{"UpdateRecord stage", invalid, func(ctx context.Context, tx *store.Tx) string {
			r := *rec
			r.Stage = b
			return outcome(tx.UpdateRecord(ctx, org, &r))
		}},
		{"SaveAutomation new", invalid, func(ctx context.Context, tx *store.Tx) string {
			return outcome(tx.SaveAutomation(ctx, org, callAPI(b, automation.Manual), ""))
		}},
		{"SaveAutomation existing", invalid, func(ctx context.Context, tx *store.Tx) string {
			d := *aut
			d.Name = b
			return outcome(tx.SaveAutomation(ctx, org, &d, ""))
		}},
		{"PutSecret name", invalid, func(ctx context.Context, tx *store.Tx) string { return outcome(tx.PutSecret(ctx, org, b, "sealed")) }},
		{"PutSecret value", invalid, func(ctx context.Context, tx *store.Tx) string { return outcome(tx.PutSecret(ctx, org, "K", b)) }},
		{"CreateUser email", invalid, func(ctx context.Context, tx *store.Tx) string {
			return outcome(tx.CreateUser(ctx, &store.User{OrgID: org, Email: b, Name: "n", PasswordHash: "h"}))
		}},
		{"CreateUser name", invalid, func(ctx context.Context, tx *store.Tx) string {
			return outcome(tx.CreateUser(ctx, &store.User{OrgID: org, Email: uniq("e"), Name: b, PasswordHash: "h"}))
		}},
		{"CreateSession", invalid, func(ctx context.Context, tx *store.Tx) string {
			return outcome(tx.CreateSession(ctx, b, &store.Session{UserID: "usr_x", OrgID: org, ExpiresAt: time.Now().Add(time.Hour)}))
		}},
		{"PutDue value", invalid, func(ctx context.Context, tx *store.Tx) string {
			return outcome(tx.PutDue(ctx, store.Due{AutomationID: aut.ID, RecordID: rec.ID, OrgID: org, At: time.Now(), Value: b}))
		}},
		{"InsertRun record id", invalid, func(ctx context.Context, tx *store.Tx) string {
			return outcome(tx.InsertRun(ctx, org, newRunValue(b)))
		}},
		{"LockCluster", invalid, func(ctx context.Context, tx *store.Tx) string { return outcome(tx.LockCluster(ctx, b)) }},
	}
	if !s.b.Clustered {
		// One writer: LockCluster takes no lock, so it reads no name.
		valued = valued[:len(valued)-1]
	}

	for _, c := range reads {
		if got := c.do(ctx, st); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	// Every check again in one transaction: none may spoil it for what
	// follows (a statement PostgreSQL refused would abort the transaction).
	writes := slices.Concat(keyed, valued)
	for _, c := range reads {
		writes = append(writes, check{c.name + " in a transaction", c.want, func(ctx context.Context, tx *store.Tx) string { return c.do(ctx, tx) }})
	}
	results := map[string]string{}
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		for _, c := range writes {
			results[c.name] = c.do(ctx, tx)
		}
		return tx.InsertRecord(ctx, org, &record.Record{Collection: "leads", Stage: "New", Fields: map[string]any{"name": "after"}})
	})
	for _, c := range writes {
		if results[c.name] != c.want {
			t.Errorf("%s: %s, want %s", c.name, results[c.name], c.want)
		}
	}
	if names := recordNames(t, st, org); !slices.Equal(names, []string{"Ada", "after"}) {
		t.Errorf("records %v: the refused writes wrote, or the transaction's last write did not commit", names)
	}
	if list, _, err := st.Automations(ctx, org, store.AutomationFilter{}, store.Page{}); err != nil || len(list) != 1 || list[0].Doc.Name != "a" || list[0].Doc.Version != 1 {
		t.Errorf("automations after refused saves: %+v, %v", list, err)
	}

	// Values the store holds in JSON, and error messages, take any text.
	odd := map[string]any{"name": b, b: "key"}
	r := newRecord(t, st, org, odd)
	if got, err := st.Record(ctx, org, "leads", r.ID); err != nil || len(got.Fields) != 2 {
		t.Errorf("a record with such fields: %+v, %v", got, err)
	}
	a := failedAttempt(1)
	a.Error = &automation.AttemptError{Class: retry.HTTP5xx, Message: "answered " + b}
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		if err := tx.InsertAttempt(ctx, run.ID, 0, a); err != nil {
			return err
		}
		run.Error, run.Status = a.Error, automation.StatusFailed
		seq := run.Seq
		run.Seq++
		return tx.UpdateRun(ctx, org, run, seq)
	})
	got, err := st.RunWithAttempts(ctx, org, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{got.Error.Message, got.Steps[0].Attempts[0].Error.Message} {
		if want := "answered a\uFFFDb"; m != want {
			t.Errorf("error message %q, want %q: made valid", m, want)
		}
	}
}

// reader is what Store and Tx both read with.
type reader interface {
	Collection(ctx context.Context, orgID, key string) (*record.Collection, error)
	Collections(ctx context.Context, orgID string, page store.Page) ([]*record.Collection, string, error)
	Record(ctx context.Context, orgID, collection, id string) (*record.Record, error)
	RecordByID(ctx context.Context, orgID, id string) (*record.Record, error)
	Records(ctx context.Context, orgID, collection string, f store.RecordFilter, page store.Page) ([]*record.Record, string, error)
	Automation(ctx context.Context, orgID, id string) (*store.AutomationVersion, error)
	AutomationAt(ctx context.Context, orgID, id string, version int64) (*store.AutomationVersion, error)
	Automations(ctx context.Context, orgID string, f store.AutomationFilter, page store.Page) ([]*store.AutomationVersion, string, error)
	EnabledAutomations(ctx context.Context, orgID, collection string, triggerTypes ...string) ([]store.AutomationRef, error)
	Run(ctx context.Context, orgID, id string) (*automation.Run, error)
	RunWithAttempts(ctx context.Context, orgID, id string) (*automation.Run, error)
	Runs(ctx context.Context, orgID string, f store.RunFilter, page store.Page) ([]*automation.Run, string, error)
	User(ctx context.Context, orgID, id string) (*store.User, error)
	UserByEmail(ctx context.Context, email string) (*store.User, error)
	APIKeyByHash(ctx context.Context, hash string) (*store.APIKey, error)
	APIKeys(ctx context.Context, orgID string, page store.Page) ([]*store.APIKey, string, error)
	Organisations(ctx context.Context, page store.Page) ([]*store.Organisation, string, error)
	SessionByHash(ctx context.Context, idHash string, now time.Time) (*store.Session, error)
	Secrets(ctx context.Context, orgID string) ([]store.Secret, error)
	SealedSecrets(ctx context.Context, orgID string) (map[string]string, error)
}

// third is a list's error.
func third[T any](_ []T, _ string, err error) error { return err }

// page drops a list's next cursor.
func page[T any](items []T, _ string, err error) ([]T, error) { return items, err }
