package service_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/catalog"
	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/service"
	"github.com/autohook/autohook/internal/store"
	"github.com/autohook/autohook/internal/trigger"
)

// stack is a service on a real database, with a connection of the test's
// own to it.
type stack struct {
	svc   *service.Service
	st    *store.Store
	org   string
	db    *sql.DB
	url   string
	isPG  bool
	clock *time.Time // the service's clock: now, unless a test moves it
}

const adminPassword = "the-admin-password"

// newStack builds a service on a fresh database ("" SQLite, else
// PostgreSQL) and bootstraps it.
func newStack(t *testing.T, pg bool, mutate ...func(*service.Config)) *stack {
	t.Helper()
	ctx := context.Background()
	url := "sqlite:" + t.TempDir() + "/db"
	if pg {
		url = pgtest.NewDatabase(t)
	}
	s := &stack{isPG: pg, url: url}
	now := time.Now()
	s.clock = &now
	var err error
	s.svc, s.st = openNode(t, store.Config{URL: url, Workers: river.NewWorkers()}, false, append([]func(*service.Config){func(cfg *service.Config) {
		cfg.Now = func() time.Time { return *s.clock }
	}}, mutate...)...)
	b, err := s.svc.Bootstrap(ctx, "", adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	s.org = b.Organisation.ID
	driver, dsn := "sqlite3", "file:"+strings.TrimPrefix(url, "sqlite:")+"?_busy_timeout=10000"
	if pg {
		driver, dsn = "pgx", url
	}
	if s.db, err = sql.Open(driver, dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.db.Close() })
	return s
}

// openNode opens a store with cfg (closed when t ends) and a service over
// it, whose catalog is told whether other nodes share the database.
func openNode(t *testing.T, cfg store.Config, shared bool, mutate ...func(*service.Config)) (*service.Service, *store.Store) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	cfg.Logger = log
	st, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	box, err := secret.NewBox(make([]byte, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(st, box, automation.Options{}, shared)
	scfg := service.Config{Store: st, Catalog: cat, Firer: trigger.New(cat, log), Box: box, Logger: log}
	for _, m := range mutate {
		m(&scfg)
	}
	return service.New(scfg), st
}

func (s *stack) exec(t *testing.T, q string) {
	t.Helper()
	if _, err := s.db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// refuseAudit makes the database refuse every audit entry, until the test
// ends: at the insert (SQLite, PostgreSQL), or at commit (deferred, on
// PostgreSQL: the change and its entry are both written, then the commit
// fails).
func (s *stack) refuseAudit(t *testing.T, atCommit bool) {
	t.Helper()
	switch {
	case !s.isPG:
		s.exec(t, `CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused'); END`)
		t.Cleanup(func() { s.exec(t, `DROP TRIGGER refuse_audit`) })
		return
	case atCommit:
		s.exec(t, `CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$ LANGUAGE plpgsql`)
		s.exec(t, `CREATE CONSTRAINT TRIGGER refuse_audit AFTER INSERT ON audit_log DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_audit()`)
	default:
		s.exec(t, `CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$ LANGUAGE plpgsql`)
		s.exec(t, `CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit()`)
	}
	t.Cleanup(func() {
		s.exec(t, `DROP TRIGGER refuse_audit ON audit_log`)
		s.exec(t, `DROP FUNCTION refuse_audit()`)
	})
}

func (s *stack) entries(t *testing.T) []*autohook.AuditEntry {
	t.Helper()
	es, _, err := s.svc.Audit(context.Background(), s.org, autohook.AuditFilter{}, autohook.Page{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func bothDatabases(t *testing.T, f func(t *testing.T, pg bool)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); f(t, false) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); f(t, true) })
}

func owner(ctx context.Context) context.Context {
	return autohook.WithActor(ctx, autohook.Actor{Type: autohook.ActorAPIKey, ID: "key_test", Name: "test", Role: autohook.RoleOwner})
}

// TestAuditAtomic: a change and its audit entry are one transaction. When
// the entry cannot be written (or the commit fails after both were), the
// change is not made either; when the change fails, there is no entry.
func TestAuditAtomic(t *testing.T) {
	bothDatabases(t, func(t *testing.T, pg bool) {
		ctx := owner(context.Background())
		s := newStack(t, pg)
		leads := &record.Collection{Key: "leads", Name: "Leads", Fields: []record.Field{{Key: "name", Type: record.Text}}}
		if err := s.svc.CreateCollection(ctx, s.org, leads); err != nil {
			t.Fatal(err)
		}
		doc := &automation.Automation{Name: "Mark", Collection: "leads", Enabled: true, Trigger: automation.Trigger{Type: automation.Manual},
			Steps: []automation.StepSpec{{ID: "mark", Type: automation.TypeUpdateRecord, Set: []automation.Assignment{{Field: "name", Value: "x"}}}}}
		if _, _, err := s.svc.SaveAutomation(ctx, s.org, doc); err != nil {
			t.Fatal(err)
		}
		before := len(s.entries(t))

		// A change that fails leaves no entry.
		err := s.svc.DeleteCollection(ctx, s.org, "leads") // an automation uses it
		if !errors.Is(err, autohook.ErrConflict) {
			t.Fatalf("DeleteCollection of a used collection: %v, want ErrConflict", err)
		}
		if _, err := s.svc.CreateAPIKey(ctx, s.org, "ci", "admin"); err == nil {
			t.Fatal("a key with an unknown role was created")
		}
		if n := len(s.entries(t)); n != before {
			t.Errorf("failed changes left %d audit entries", n-before)
		}

		// An entry that cannot be written takes its change with it.
		modes := []bool{false}
		if pg {
			modes = append(modes, true)
		}
		for _, atCommit := range modes {
			t.Run(map[bool]string{false: "entry refused", true: "commit refused"}[atCommit], func(t *testing.T) {
				s.refuseAudit(t, atCommit)
				changes := []struct {
					name   string
					change func() error
					undone func() bool
				}{
					{"create collection", func() error {
						return s.svc.CreateCollection(ctx, s.org, &record.Collection{Key: "other", Name: "Other"})
					}, func() bool {
						_, err := s.svc.Collection(ctx, s.org, "other")
						return errors.Is(err, autohook.ErrNotFound)
					}},
					{"update automation", func() error {
						d := *doc
						d.Name = "Renamed"
						_, _, err := s.svc.SaveAutomation(ctx, s.org, &d)
						return err
					}, func() bool {
						a, err := s.svc.Automation(ctx, s.org, doc.ID)
						return err == nil && a.Name == "Mark" && a.Version == 1
					}},
					{"put secret", func() error { return s.svc.PutSecret(ctx, s.org, "TOKEN", "a-secret-value") }, func() bool {
						ss, err := s.svc.Secrets(ctx, s.org)
						return err == nil && len(ss) == 0
					}},
					{"create api key", func() error { _, err := s.svc.CreateAPIKey(ctx, s.org, "ci", autohook.RoleViewer); return err }, func() bool {
						ks, _, err := s.svc.APIKeys(ctx, s.org, autohook.Page{})
						return err == nil && len(ks) == 1 // the bootstrap key alone
					}},
					{"invite", func() error {
						_, err := s.svc.CreateInvitation(ctx, s.org, "ana@example.com", autohook.RoleEditor)
						return err
					}, func() bool { return true }},
					{"sign in", func() error {
						_, _, err := s.svc.SignIn(context.Background(), autohook.AdminLogin, adminPassword)
						return err
					}, func() bool { return true }},
				}
				for _, c := range changes {
					if err := c.change(); err == nil {
						t.Errorf("%s: succeeded without its audit entry", c.name)
					}
					if !c.undone() {
						t.Errorf("%s: the change stayed without its audit entry", c.name)
					}
				}
				if n := len(s.entries(t)); n != before {
					t.Errorf("%d entries appeared", n-before)
				}
			})
		}
	})
}

// TestAuditDetails checks what the entries say.
func TestAuditDetails(t *testing.T) {
	bothDatabases(t, func(t *testing.T, pg bool) {
		base := context.Background()
		ctx := owner(base)
		s := newStack(t, pg)
		if err := s.svc.CreateCollection(ctx, s.org, &record.Collection{Key: "leads", Name: "Leads", Fields: []record.Field{{Key: "name", Type: record.Text}}}); err != nil {
			t.Fatal(err)
		}
		doc := &automation.Automation{Name: "Mark", Collection: "leads", Enabled: true, Trigger: automation.Trigger{Type: automation.Manual},
			Steps: []automation.StepSpec{{ID: "mark", Type: automation.TypeUpdateRecord, Set: []automation.Assignment{{Field: "name", Value: "x"}}}}}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		_, _, err := s.svc.SaveAutomation(ctx, s.org, doc)
		must(err)
		d := *doc
		d.Name = "Mark v2"
		_, _, err = s.svc.SaveAutomation(ctx, s.org, &d)
		must(err)
		d.Enabled = false
		_, _, err = s.svc.SaveAutomation(ctx, s.org, &d)
		must(err)
		must(s.svc.PutSecret(ctx, s.org, "TOKEN", "a-secret-value-never-logged"))
		all, _, err := s.svc.Automations(ctx, s.org, autohook.AutomationFilter{}, autohook.Page{})
		must(err)
		_, err = s.svc.ResumeAutomation(ctx, s.org, all[0].ID) // not paused: recorded all the same, with its name
		must(err)
		_, _, err = s.svc.SignIn(base, autohook.AdminLogin, "wrong password")
		if !errors.Is(err, autohook.ErrUnauthorized) {
			t.Fatalf("wrong password: %v", err)
		}
		_, _, err = s.svc.SignIn(base, "nobody@example.com", "wrong password")
		if !errors.Is(err, autohook.ErrUnauthorized) {
			t.Fatalf("unknown login: %v", err)
		}
		_, _, err = s.svc.SignIn(base, autohook.AdminLogin, adminPassword)
		must(err)

		es := s.entries(t)
		var got []string
		for i := len(es) - 1; i >= 0; i-- {
			e := es[i]
			got = append(got, e.Action+" "+e.Actor.Type+":"+e.Actor.Name+" "+e.Target.Type+":"+e.Target.Name+" "+string(e.Details))
			if strings.Contains(string(e.Details), "a-secret-value") {
				t.Errorf("an entry holds the secret's value: %+v", e)
			}
		}
		want := []string{
			`collection.created api_key:test collection:Leads {"fields":1,"stages":0}`,
			`automation.created api_key:test automation:Mark {"toVersion":1}`,
			`automation.updated api_key:test automation:Mark v2 {"fromVersion":1,"toVersion":2}`,
			`automation.paused api_key:test automation:Mark v2 {"fromVersion":2,"toVersion":3}`,
			`secret.put api_key:test secret:TOKEN {}`,
			`automation.resumed api_key:test automation:Mark v2 {"wasPaused":false}`,
			`user.sign_in_failed user:Admin user:admin {}`,
			`user.signed_in user:Admin user:admin {}`,
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestPeople: invitations are single-use and expire; roles change and
// users are removed at once, never leaving an organisation without an
// owner; a removed user's sessions end at once; passwords change.
func TestPeople(t *testing.T) {
	bothDatabases(t, func(t *testing.T, pg bool) {
		base := context.Background()
		ctx := owner(base)
		s := newStack(t, pg)
		inv, err := s.svc.CreateInvitation(ctx, s.org, " Ana@Example.com ", autohook.RoleEditor)
		if err != nil {
			t.Fatal(err)
		}
		if inv.Email != "ana@example.com" || !inv.ExpiresAt.After(s.clock.Add(7*24*time.Hour-time.Minute)) {
			t.Errorf("invitation %+v", inv.Invitation)
		}
		for _, c := range []struct {
			name string
			in   autohook.Acceptance
			path string
		}{
			{"no name", autohook.Acceptance{Password: "a-good-password"}, "name"},
			{"short password", autohook.Acceptance{Name: "Ana", Password: "short"}, "password"},
		} {
			_, err := s.svc.AcceptInvitation(base, inv.Token, c.in)
			if err == nil || !strings.Contains(err.Error(), c.path) {
				t.Errorf("%s: %v, want a problem at %s", c.name, err, c.path)
			}
		}
		ana, err := s.svc.AcceptInvitation(base, inv.Token, autohook.Acceptance{Name: "Ana", Password: "a-good-password"})
		if err != nil {
			t.Fatal(err)
		}
		if ana.Role != autohook.RoleEditor || ana.Email != "ana@example.com" {
			t.Errorf("accepted as %+v", ana)
		}
		if _, err := s.svc.AcceptInvitation(base, inv.Token, autohook.Acceptance{Name: "Eve", Password: "a-good-password"}); !errors.Is(err, autohook.ErrNotFound) {
			t.Errorf("a used invitation: %v, want ErrNotFound", err)
		}
		late, err := s.svc.CreateInvitation(ctx, s.org, "late@example.com", autohook.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		*s.clock = s.clock.Add(autohook.InvitationTTL + time.Second)
		if _, err := s.svc.Invitation(base, late.Token); !errors.Is(err, autohook.ErrNotFound) {
			t.Errorf("an expired invitation: %v, want ErrNotFound", err)
		}
		*s.clock = time.Now()
		if _, err := s.svc.CreateInvitation(ctx, s.org, "ana@example.com", autohook.RoleViewer); err == nil {
			t.Error("invited an email that already signs in")
		}

		id1, sess, err := s.svc.SignIn(base, "ana@example.com", "a-good-password")
		if err != nil || sess.User.Role != autohook.RoleEditor || sess.Actor().Role != autohook.RoleEditor {
			t.Fatalf("Ana signs in: %+v, %v", sess, err)
		}
		id2, _, err := s.svc.SignIn(base, "ana@example.com", "a-good-password")
		if err != nil {
			t.Fatal(err)
		}
		// A role change applies to the next request of a live session.
		if _, err := s.svc.SetUserRole(ctx, s.org, ana.ID, autohook.RoleViewer); err != nil {
			t.Fatal(err)
		}
		if ws, err := s.svc.Session(base, id1); err != nil || ws.User.Role != autohook.RoleViewer {
			t.Errorf("after the role change the session has %+v, %v", ws, err)
		}
		// Changing the password ends the other sessions.
		anaCtx := autohook.WithActor(base, sess.Actor())
		if err := s.svc.ChangePassword(anaCtx, s.org, "wrong", "a-new-password", id1); err == nil || !strings.Contains(err.Error(), "current") {
			t.Errorf("a wrong current password: %v", err)
		}
		if err := s.svc.ChangePassword(anaCtx, s.org, "a-good-password", "a-new-password", id1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.Session(base, id2); !errors.Is(err, autohook.ErrUnauthorized) {
			t.Errorf("another session after a password change: %v", err)
		}
		if _, err := s.svc.Session(base, id1); err != nil {
			t.Errorf("the session that changed the password: %v", err)
		}
		if _, _, err := s.svc.SignIn(base, "ana@example.com", "a-new-password"); err != nil {
			t.Errorf("sign in with the new password: %v", err)
		}
		if err := s.svc.SignOutEverywhere(anaCtx, s.org); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.Session(base, id1); !errors.Is(err, autohook.ErrUnauthorized) {
			t.Errorf("after signing out everywhere: %v", err)
		}

		// The last owner stays.
		users, _, err := s.svc.Users(ctx, s.org, autohook.Page{})
		if err != nil || len(users) != 2 {
			t.Fatalf("users %v, %v", users, err)
		}
		var admin *autohook.User
		for _, u := range users {
			if u.Email == autohook.AdminLogin {
				admin = u
			}
		}
		if admin == nil || admin.Role != autohook.RoleOwner {
			t.Fatalf("the bootstrap admin is %+v, want an owner", admin)
		}
		if _, err := s.svc.SetUserRole(ctx, s.org, admin.ID, autohook.RoleEditor); !errors.Is(err, autohook.ErrConflict) {
			t.Errorf("demoting the last owner: %v, want ErrConflict", err)
		}
		if err := s.svc.RemoveUser(ctx, s.org, admin.ID); !errors.Is(err, autohook.ErrConflict) {
			t.Errorf("removing the last owner: %v, want ErrConflict", err)
		}
		// A removed user's sessions end at once.
		id3, _, err := s.svc.SignIn(base, "ana@example.com", "a-new-password")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.svc.RemoveUser(ctx, s.org, ana.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.Session(base, id3); !errors.Is(err, autohook.ErrUnauthorized) {
			t.Errorf("a removed user's session: %v, want ErrUnauthorized", err)
		}
		if _, _, err := s.svc.SignIn(base, "ana@example.com", "a-new-password"); !errors.Is(err, autohook.ErrUnauthorized) {
			t.Errorf("a removed user signs in: %v", err)
		}
	})
}

// TestSessionLifetime: a session lasts the configured lifetime, then
// ends.
func TestSessionLifetime(t *testing.T) {
	t.Parallel()
	base := context.Background()
	s := newStack(t, false, func(c *service.Config) { c.SessionTTL = time.Hour })
	id, sess, err := s.svc.SignIn(base, autohook.AdminLogin, adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if d := sess.ExpiresAt.Sub(*s.clock); d != time.Hour {
		t.Errorf("the session lasts %v, want 1h", d)
	}
	*s.clock = s.clock.Add(time.Hour - time.Second)
	if _, err := s.svc.Session(base, id); err != nil {
		t.Errorf("within the lifetime: %v", err)
	}
	*s.clock = s.clock.Add(time.Second)
	if _, err := s.svc.Session(base, id); !errors.Is(err, autohook.ErrUnauthorized) {
		t.Errorf("at the end of the lifetime: %v, want ErrUnauthorized", err)
	}
}

// TestLastOwnerRace: two owners demoting each other at once (on
// PostgreSQL, in two transactions at the same time) leave one owner: the
// count of owners and the change are not split by the other's.
func TestLastOwnerRace(t *testing.T) {
	if os.Getenv("AUTOHOOK_TEST_DATABASE_URL") == "" {
		t.Skip("PostgreSQL only: SQLite has one writer")
	}
	ctx := owner(context.Background())
	s := newStack(t, true)
	inv, err := s.svc.CreateInvitation(ctx, s.org, "second@example.com", autohook.RoleOwner)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.svc.AcceptInvitation(context.Background(), inv.Token, autohook.Acceptance{Name: "Second", Password: "a-good-password"})
	if err != nil {
		t.Fatal(err)
	}
	users, _, err := s.svc.Users(ctx, s.org, autohook.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range users {
		ids = append(ids, u.ID)
	}
	if len(ids) != 2 || ids[0] != second.ID && ids[1] != second.ID {
		t.Fatalf("users %v", users)
	}
	for round := range 30 {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, id := range ids {
			wg.Go(func() {
				<-start
				var err error
				if i == 0 {
					_, err = s.svc.SetUserRole(ctx, s.org, id, autohook.RoleEditor)
				} else {
					err = s.svc.RemoveUser(ctx, s.org, id)
				}
				if err != nil && !errors.Is(err, autohook.ErrConflict) {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		users, _, err := s.svc.Users(ctx, s.org, autohook.Page{})
		if err != nil {
			t.Fatal(err)
		}
		owners := 0
		for _, u := range users {
			if u.Role == autohook.RoleOwner {
				owners++
			}
		}
		if owners != 1 {
			t.Fatalf("round %d: %d owners left, want 1: %+v", round, owners, users)
		}
		// Back to two owners for the next round.
		if len(users) == 1 {
			inv, err := s.svc.CreateInvitation(ctx, s.org, fmt.Sprintf("owner%d@example.com", round), autohook.RoleOwner)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.svc.AcceptInvitation(context.Background(), inv.Token, autohook.Acceptance{Name: "Next", Password: "a-good-password"}); err != nil {
				t.Fatal(err)
			}
		} else {
			for _, u := range users {
				if u.Role != autohook.RoleOwner {
					if _, err := s.svc.SetUserRole(ctx, s.org, u.ID, autohook.RoleOwner); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		if users, _, err = s.svc.Users(ctx, s.org, autohook.Page{}); err != nil {
			t.Fatal(err)
		}
		ids = ids[:0]
		for _, u := range users {
			ids = append(ids, u.ID)
		}
	}
}
