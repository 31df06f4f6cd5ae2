package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/store"
)

// catalogWriters are the store's methods that write collections,
// automations, automation_versions or secrets: each must move the
// organisation's generation on (testCatalogWriters proves it, in this
// order, each row on what the rows before it made) and
// TestEveryCatalogWriterBumps keeps the list complete.
var catalogWriters = []struct {
	name  string
	write func(ctx context.Context, tx *store.Tx, f *genFixture) error
}{
	{"CreateCollection", func(ctx context.Context, tx *store.Tx, f *genFixture) error {
		return tx.CreateCollection(ctx, f.org, f.coll)
	}},
	{"UpdateCollection", func(ctx context.Context, tx *store.Tx, f *genFixture) error {
		f.coll.Name = "Leads, renamed"
		return tx.UpdateCollection(ctx, f.org, f.coll)
	}},
	{"SaveAutomation", func(ctx context.Context, tx *store.Tx, f *genFixture) error {
		return tx.SaveAutomation(ctx, f.org, f.aut, "sealed-signing")
	}},
	{"SaveAutomationBy", func(ctx context.Context, tx *store.Tx, f *genFixture) error {
		f.aut.Enabled = false // disabling is a new version
		return tx.SaveAutomationBy(ctx, f.org, f.aut, "sealed-signing", store.VersionMeta{})
	}},
	{"PutSecret", func(ctx context.Context, tx *store.Tx, f *genFixture) error {
		return tx.PutSecret(ctx, f.org, "TOKEN", "sealed-1")
	}},
	{"Reseal", func(ctx context.Context, tx *store.Tx, f *genFixture) error {
		for _, v := range []store.SealedValue{
			{Kind: store.SealedSecret, OrgID: f.org, Name: "TOKEN", Sealed: "sealed-1"},
			{Kind: store.SealedSigning, OrgID: f.org, Name: f.aut.ID, Version: 1, Sealed: "sealed-signing"},
		} {
			if ok, err := tx.Reseal(ctx, v, v.Sealed+"-again"); err != nil || !ok {
				return errors.Join(err, errors.New("nothing resealed"))
			}
		}
		return nil
	}},
	{"DeleteSecret", func(ctx context.Context, tx *store.Tx, f *genFixture) error {
		return tx.DeleteSecret(ctx, f.org, "TOKEN")
	}},
	{"DeleteAutomation", func(ctx context.Context, tx *store.Tx, f *genFixture) error {
		return tx.DeleteAutomation(ctx, f.org, f.aut.ID)
	}},
	{"DeleteCollection", func(ctx context.Context, tx *store.Tx, f *genFixture) error {
		return tx.DeleteCollection(ctx, f.org, f.coll.Key)
	}},
}

// genFixture is what the catalogWriters rows write to.
type genFixture struct {
	org  string
	coll *record.Collection
	aut  *automation.Automation
}

// changes records the organisations OnCatalogChange was told of.
type changes struct {
	mu   sync.Mutex
	orgs []string
}

func (c *changes) add(org string) { c.mu.Lock(); c.orgs = append(c.orgs, org); c.mu.Unlock() }

func (c *changes) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.orgs
	c.orgs = nil
	return out
}

func testCatalogWriters(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.fresh(t)
	var seen changes
	st.OnCatalogChange(seen.add)
	f := &genFixture{org: newOrg(t, st), coll: leads(), aut: callAPI("signed", automation.RecordAdded)}
	other := newOrg(t, st)
	seen.take()
	gen := int64(0)
	for _, w := range catalogWriters {
		// A call that fails is rolled back with its bump, and tells no one
		// (on copies: the rows set ids and versions).
		coll, aut := *f.coll, *f.aut
		if err := try(st, func(ctx context.Context, tx *store.Tx) error {
			if err := w.write(ctx, tx, &genFixture{org: f.org, coll: &coll, aut: &aut}); err != nil {
				return err
			}
			return errRollBack
		}); !errors.Is(err, errRollBack) {
			t.Fatalf("%s, rolled back: %v", w.name, err)
		}
		if got, err := st.CatalogGen(ctx, f.org); err != nil || got != gen {
			t.Errorf("%s rolled back: generation %d (%v), want %d", w.name, got, err, gen)
		}
		if got := seen.take(); len(got) != 0 {
			t.Errorf("%s rolled back: OnCatalogChange told of %v, want nothing", w.name, got)
		}
		write(t, st, func(ctx context.Context, tx *store.Tx) error { return w.write(ctx, tx, f) })
		got, err := st.CatalogGen(ctx, f.org)
		if err != nil || got <= gen {
			t.Errorf("%s: generation %d (%v), want more than %d", w.name, got, err, gen)
		}
		gen = got
		if got := seen.take(); len(got) == 0 || slices.ContainsFunc(got, func(o string) bool { return o != f.org }) {
			t.Errorf("%s: OnCatalogChange told of %v, want %s", w.name, got, f.org)
		}
	}
	if got, err := st.CatalogGen(ctx, other); err != nil || got != 0 {
		t.Errorf("another organisation's generation: %d, %v; want 0", got, err)
	}
}

var errRollBack = errors.New("roll back")

func testCatalogGen(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	org := newOrg(t, st)
	if gen, err := st.CatalogGen(ctx, org); err != nil || gen != 0 {
		t.Errorf("a new organisation: %d, %v; want 0", gen, err)
	}
	newCollection(t, st, org)
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		gen, err := tx.CatalogGen(ctx, org)
		if err != nil || gen != 1 {
			t.Errorf("in a transaction, after a change: %d, %v; want 1", gen, err)
		}
		if err := tx.PutSecret(ctx, org, "A", "sealed"); err != nil {
			return err
		}
		if gen, err := tx.CatalogGen(ctx, org); err != nil || gen != 2 {
			t.Errorf("in a transaction, after its own change: %d, %v; want 2", gen, err)
		}
		return nil
	})
	for _, id := range []string{"org_unknown", "org_\xff"} {
		if gen, err := st.CatalogGen(ctx, id); err != nil || gen != 0 {
			t.Errorf("%q: %d, %v; want 0", id, gen, err)
		}
	}
}

func testCheckCatalogGen(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	org := newOrg(t, st)
	newCollection(t, st, org) // generation 1
	check := func(gen int64) error {
		return try(st, func(ctx context.Context, tx *store.Tx) error {
			if err := tx.CheckCatalogGen(ctx, org, gen); err != nil {
				return err
			}
			return tx.PutSecret(ctx, org, "AFTER_CHECK", "sealed") // generation 2 when it commits
		})
	}
	for _, gen := range []int64{0, 2} {
		if err := check(gen); !errors.Is(err, store.ErrStaleDefs) {
			t.Errorf("check of generation %d at 1: %v; want ErrStaleDefs", gen, err)
		}
	}
	if n, _ := st.SealedSecrets(ctx, org); len(n) != 0 {
		t.Errorf("a call whose check failed wrote %v", n)
	}
	if err := check(1); err != nil {
		t.Errorf("check of the current generation: %v", err)
	}
	if gen, _ := st.CatalogGen(ctx, org); gen != 2 {
		t.Errorf("generation %d after the checked write, want 2", gen)
	}
	// Checked twice in one call at the same generation, after the call's
	// own change: the second check is the first's answer.
	if err := try(st, func(ctx context.Context, tx *store.Tx) error {
		if err := tx.CheckCatalogGen(ctx, org, 2); err != nil {
			return err
		}
		return tx.CheckCatalogGen(ctx, org, 2)
	}); err != nil {
		t.Errorf("two checks in one call: %v", err)
	}
}

func testOnCatalogChange(t *testing.T, s *suite) {
	st := s.fresh(t)
	var first, second changes
	st.OnCatalogChange(first.add)
	st.OnCatalogChange(second.add)
	a, b := newOrg(t, st), newOrg(t, st)
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		if err := tx.PutSecret(ctx, a, "X", "sealed"); err != nil {
			return err
		}
		if got := first.take(); len(got) != 0 {
			t.Errorf("told of %v before the commit", got)
		}
		return tx.PutSecret(ctx, b, "X", "sealed")
	})
	for _, c := range []*changes{&first, &second} {
		got := c.take()
		slices.Sort(got)
		want := []string{a, b}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("told of %v, want %v", got, want)
		}
	}
	// Writes to anything else tell no one.
	newRecord(t, st, a, map[string]any{"name": "Ada"})
	if got := first.take(); len(got) != 0 {
		t.Errorf("a record write told of %v", got)
	}
}
