package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/catalog"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/signing"
	"github.com/autohook/autohook/internal/store"
)

const signingSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{URL: "sqlite:" + filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	return st
}

func newBox(t *testing.T, fill byte) *secret.Box {
	t.Helper()
	box, err := secret.NewBox(bytes.Repeat([]byte{fill}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

func newOrg(t *testing.T, st *store.Store, name string) string {
	t.Helper()
	var id string
	err := st.Write(context.Background(), func(tx *store.Tx) error {
		o, err := tx.CreateOrganisation(context.Background(), name)
		if o != nil {
			id = o.ID
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// doc returns a valid automation document.
func doc(name, collection, trigger string, enabled bool) *automation.Automation {
	a := &automation.Automation{
		Name: name, Collection: collection, Enabled: enabled,
		Trigger: automation.Trigger{Type: trigger},
		Steps: []automation.StepSpec{
			{ID: "send", Type: automation.TypeCallAPI, Method: "POST", URL: "https://hooks.example/{record.id}",
				Body: &automation.Body{ContentType: automation.ContentJSON, Fields: []automation.BodyField{{Key: "name", Type: "string", Value: "{record.name}"}}}},
		},
	}
	if trigger == automation.StageChanged {
		a.Trigger.To = "Won"
	}
	return a
}

// save stores a (a new automation or a new version) and returns it with its
// id and version set.
func save(t *testing.T, st *store.Store, orgID string, a *automation.Automation, sealed string) *automation.Automation {
	t.Helper()
	err := st.Write(context.Background(), func(tx *store.Tx) error {
		return tx.SaveAutomation(context.Background(), orgID, a, sealed)
	})
	if err != nil {
		t.Fatalf("SaveAutomation(%s): %v", a.Name, err)
	}
	return a
}

func TestGetCompilesAndCaches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	org := newOrg(t, st, "acme")
	cat := catalog.New(st, newBox(t, 1), automation.Options{}, false)
	a := save(t, st, org, doc("first", "orders", automation.RecordAdded, true), "")

	got, err := cat.Get(ctx, org, a.ID, a.Version)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	want := struct {
		ID, Name, Collection string
		Version              int64
		Enabled              bool
		Trigger              automation.Trigger
		Steps                []string
		Signed               bool
	}{a.ID, "first", "orders", 1, true, automation.Trigger{Type: automation.RecordAdded}, []string{"send call_api"}, false}
	gotSummary := want
	gotSummary.ID, gotSummary.Name, gotSummary.Collection, gotSummary.Version = got.ID, got.Name, got.Collection, got.Version
	gotSummary.Enabled, gotSummary.Trigger, gotSummary.Signed = got.Enabled, got.Trigger, got.Signer != nil
	gotSummary.Steps = nil
	for _, s := range got.Steps {
		gotSummary.Steps = append(gotSummary.Steps, s.StepID()+" "+s.StepType())
	}
	if diff := cmp.Diff(want, gotSummary); diff != "" {
		t.Errorf("Get mismatch (-want +got):\n%s", diff)
	}

	again, err := cat.Get(ctx, org, a.ID, a.Version)
	if err != nil {
		t.Fatalf("second Get: %v", err)
	}
	if again != got {
		t.Error("second Get returned another *Compiled, want the cached one")
	}

	// A new version is another entry; the old one stays as it was.
	a.Name = "second"
	save(t, st, org, a, "")
	if a.Version != 2 {
		t.Fatalf("new version = %d, want 2", a.Version)
	}
	v2, err := cat.Get(ctx, org, a.ID, 2)
	if err != nil {
		t.Fatalf("Get v2: %v", err)
	}
	v1, err := cat.Get(ctx, org, a.ID, 1)
	if err != nil {
		t.Fatalf("Get v1 again: %v", err)
	}
	if v2.Name != "second" || v2.Version != 2 || v1 != got || v1.Name != "first" {
		t.Errorf("v2 = %q (version %d), v1 = %q (cached: %v); want second, 2 and the cached first", v2.Name, v2.Version, v1.Name, v1 == got)
	}
}

func TestGetConcurrent(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	org := newOrg(t, st, "acme")
	cat := catalog.New(st, newBox(t, 1), automation.Options{}, false)
	a := save(t, st, org, doc("first", "orders", automation.RecordAdded, true), "")
	var wg sync.WaitGroup
	results := make([]*automation.Compiled, 16)
	for i := range results {
		wg.Go(func() {
			c, err := cat.Get(context.Background(), org, a.ID, a.Version)
			if err != nil {
				t.Errorf("Get: %v", err)
			}
			results[i] = c
		})
	}
	wg.Wait()
	last, err := cat.Get(context.Background(), org, a.ID, a.Version)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range results {
		if c == nil || c.ID != a.ID {
			t.Errorf("result %d = %v, want automation %s", i, c, a.ID)
		}
	}
	if again, _ := cat.Get(context.Background(), org, a.ID, a.Version); again != last {
		t.Error("Get after the concurrent ones returned another pointer, want the cached one")
	}
}

func TestGetMissing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	org := newOrg(t, st, "acme")
	other := newOrg(t, st, "other")
	cat := catalog.New(st, newBox(t, 1), automation.Options{}, false)
	a := save(t, st, org, doc("first", "orders", automation.RecordAdded, true), "")
	tests := []struct {
		name    string
		org, id string
		version int64
	}{
		{"missing version", org, a.ID, 2},
		{"version 0", org, a.ID, 0},
		{"missing automation", org, "aut_nope", 1},
		{"another organisation's automation", other, a.ID, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cat.Get(ctx, tt.org, tt.id, tt.version)
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get(%s, %s, %d) = %v, %v; want an error wrapping store.ErrNotFound", tt.org, tt.id, tt.version, got, err)
			}
			if got != nil {
				t.Errorf("Get returned %v with its error", got)
			}
		})
	}
	// A failed Get is not cached: once the version exists, it is found.
	save(t, st, org, a, "")
	if _, err := cat.Get(ctx, org, a.ID, 2); err != nil {
		t.Errorf("Get of a version saved after a miss: %v", err)
	}
}

func TestSigningSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	org := newOrg(t, st, "acme")
	other := newOrg(t, st, "other")
	box := newBox(t, 1)
	cat := catalog.New(st, box, automation.Options{}, false)

	sealed := catalog.SealSigningSecret(box, org, signingSecret)
	if sealed == "" || bytes.Contains([]byte(sealed), []byte("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")) {
		t.Fatalf("SealSigningSecret = %q, want an opaque value", sealed)
	}
	if again := catalog.SealSigningSecret(box, org, signingSecret); again == sealed {
		t.Error("sealing twice gave the same value, want a fresh nonce each time")
	}

	a := doc("signed", "orders", automation.RecordAdded, true)
	a.Signing = &automation.Signing{Secret: signingSecret}
	save(t, st, org, a, sealed)
	v, err := st.AutomationAt(ctx, org, a.ID, a.Version)
	if err != nil {
		t.Fatal(err)
	}
	if v.Doc.Signing == nil || v.Doc.Signing.Secret != automation.SecretRedacted {
		t.Fatalf("stored document's signing = %+v, want the secret redacted", v.Doc.Signing)
	}

	plain, err := cat.OpenSigningSecret(org, v)
	if err != nil || plain != signingSecret {
		t.Errorf("OpenSigningSecret = %q, %v; want the secret", plain, err)
	}
	if _, err := cat.OpenSigningSecret(other, v); !errors.Is(err, secret.ErrOpen) {
		t.Errorf("OpenSigningSecret with another organisation = %v, want an error wrapping secret.ErrOpen", err)
	}
	otherKey := catalog.New(st, newBox(t, 2), automation.Options{}, false)
	if _, err := otherKey.OpenSigningSecret(org, v); !errors.Is(err, secret.ErrOpen) {
		t.Errorf("OpenSigningSecret with another key = %v, want an error wrapping secret.ErrOpen", err)
	}
	// A node with another key still compiles the version (records go on
	// being written, and runs created), unsigned, saying why.
	if comp, err := otherKey.Get(ctx, org, a.ID, a.Version); err != nil || comp.Signer != nil || !errors.Is(comp.SignerErr, secret.ErrOpen) {
		t.Errorf("Get with another key = signer %v, SignerErr %v, error %v; want no signer, SignerErr wrapping secret.ErrOpen, no error", comp.Signer, comp.SignerErr, err)
	}
	for _, bad := range []string{"not base64!", "AAAA"} {
		if _, err := cat.OpenSigningSecret(org, &store.AutomationVersion{Doc: v.Doc, SealedSigningSecret: bad}); err == nil {
			t.Errorf("OpenSigningSecret(%q) = nil error, want one", bad)
		}
	}
	if plain, err := cat.OpenSigningSecret(org, &store.AutomationVersion{Doc: v.Doc}); plain != "" || err != nil {
		t.Errorf("OpenSigningSecret of an unsigned version = %q, %v; want empty, nil", plain, err)
	}

	// Get opens the secret: the compiled signer signs as the plaintext
	// secret does, although the stored document only holds [redacted].
	comp, err := cat.Get(ctx, org, a.ID, a.Version)
	if err != nil {
		t.Fatalf("Get of a signed automation: %v", err)
	}
	if comp.Signer == nil {
		t.Fatal("compiled signed automation has no signer")
	}
	ref, err := signing.NewSigner(signingSecret)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1700000000, 0)
	if got, want := comp.Signer.Sign("msg", ts, []byte("body")), ref.Sign("msg", ts, []byte("body")); got != want {
		t.Errorf("compiled signer signs %q, want %q", got, want)
	}

	// A sealed secret copied to another organisation's automation does not
	// open there: the version has no signer, and says why.
	b := doc("copied", "orders", automation.RecordAdded, true)
	b.Signing = &automation.Signing{Secret: signingSecret}
	save(t, st, other, b, sealed)
	if got, err := cat.Get(ctx, other, b.ID, b.Version); err != nil || got.Signer != nil || !errors.Is(got.SignerErr, secret.ErrOpen) {
		t.Errorf("Get with another organisation's sealed secret = %+v, %v; want no signer and SignerErr wrapping secret.ErrOpen", got, err)
	}
}

func TestEnabled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	org := newOrg(t, st, "acme")
	other := newOrg(t, st, "other")
	cat := catalog.New(st, newBox(t, 1), automation.Options{}, false)

	save(t, st, org, doc("added", "orders", automation.RecordAdded, true), "")
	save(t, st, org, doc("added, disabled", "orders", automation.RecordAdded, false), "")
	save(t, st, org, doc("stage", "orders", automation.StageChanged, true), "")
	save(t, st, org, doc("manual", "orders", automation.Manual, true), "")
	save(t, st, org, doc("other collection", "leads", automation.RecordAdded, true), "")
	save(t, st, other, doc("other org", "orders", automation.RecordAdded, true), "")
	updated := save(t, st, org, doc("updated v1", "orders", automation.RecordUpdated, true), "")
	updated.Name = "updated v2"
	save(t, st, org, updated, "")
	disabledLater := save(t, st, org, doc("disabled later", "orders", automation.RecordAdded, true), "")
	disabledLater.Enabled = false
	save(t, st, org, disabledLater, "")

	names := func(cs []*automation.Compiled) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		name      string
		org, coll string
		types     []string
		want      []string
	}{
		{"one type", org, "orders", []string{automation.RecordAdded}, []string{"added"}},
		{"two types", org, "orders", []string{automation.RecordAdded, automation.StageChanged}, []string{"added", "stage"}},
		{"all types", org, "orders", nil, []string{"added", "manual", "stage", "updated v2"}},
		{"current version", org, "orders", []string{automation.RecordUpdated}, []string{"updated v2"}},
		{"type with none", org, "orders", []string{automation.RecordDue}, nil},
		{"other collection", org, "leads", nil, []string{"other collection"}},
		{"unknown collection", org, "nope", nil, nil},
		{"other organisation", other, "orders", nil, []string{"other org"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cat.Enabled(ctx, st, tt.org, tt.coll, tt.types...)
			if err != nil {
				t.Fatalf("Enabled: %v", err)
			}
			if diff := cmp.Diff(tt.want, names(got)); diff != "" {
				t.Errorf("Enabled(%s, %v) mismatch (-want +got):\n%s", tt.coll, tt.types, diff)
			}
			for _, c := range got {
				if !c.Enabled || c.Collection != tt.coll {
					t.Errorf("Enabled returned %q (enabled %v, collection %q)", c.Name, c.Enabled, c.Collection)
				}
			}
		})
	}

	// Through a committed transaction's reader, Enabled sees the
	// automations committed before it.
	err := st.Write(ctx, func(tx *store.Tx) error {
		got, err := cat.Enabled(ctx, tx, org, "orders", automation.RecordAdded)
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]string{"added"}, names(got)); diff != "" {
			t.Errorf("Enabled in a transaction mismatch (-want +got):\n%s", diff)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// TestEnabledSeesTheTransaction saves an automation and lists the enabled
// ones in the same transaction: the transaction's own writes count, as they
// do for every read method of a Tx.
func TestEnabledSeesTheTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	org := newOrg(t, st, "acme")
	cat := catalog.New(st, newBox(t, 1), automation.Options{}, false)
	err := st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.SaveAutomation(ctx, org, doc("in tx", "orders", automation.Manual, true), ""); err != nil {
			return err
		}
		got, err := cat.Enabled(ctx, tx, org, "orders", automation.Manual)
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].Name != "in tx" {
			t.Errorf("Enabled in the transaction = %v, want the automation it saved", got)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// TestEnabledFails checks that Enabled reports a reader's failure.
func TestEnabledFails(t *testing.T) {
	t.Parallel()
	cat := catalog.New(openStore(t), newBox(t, 1), automation.Options{}, false)
	_, err := cat.Enabled(context.Background(), failingReader{}, "org", "orders")
	if !errors.Is(err, errReader) {
		t.Errorf("Enabled = %v, want the reader's error", err)
	}
}

var errReader = errors.New("database is gone")

type failingReader struct{}

func (failingReader) EnabledAutomations(context.Context, string, string, ...string) ([]store.AutomationRef, error) {
	return nil, errReader
}

func (failingReader) AutomationAt(context.Context, string, string, int64) (*store.AutomationVersion, error) {
	return nil, errReader
}

func TestOptionsAndStore(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	opts := automation.Options{}
	opts.Render.MaxNodes = 42
	cat := catalog.New(st, newBox(t, 1), opts, false)
	if cat.Options().Render.MaxNodes != 42 {
		t.Errorf("Options().Render.MaxNodes = %d, want 42", cat.Options().Render.MaxNodes)
	}
	if cat.Store() != st {
		t.Error("Store() is not the store given to New")
	}
}

// TestDefinitionsCache: a collection and its enabled automations are
// cached until a change to the organisation's definitions commits through
// the store, on a node that owns its database and on one that shares it;
// only the latter's stamp checks the generation.
func TestDefinitionsCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, shared := range []bool{false, true} {
		st, org, cat := newCatalog(t, shared)
		other := newOrg(t, st, "other")
		coll := &record.Collection{Key: "orders", Name: "Orders", Fields: []record.Field{{Key: "a", Type: record.Text}}}
		if err := st.Write(ctx, func(tx *store.Tx) error { return tx.CreateCollection(ctx, org, coll) }); err != nil {
			t.Fatal(err)
		}
		first, list, stamp, err := cat.Defs(ctx, org, "orders")
		if err != nil || first == nil || len(list) != 0 {
			t.Fatalf("Defs = %v, %v, %v; want the collection, no automations", first, list, err)
		}
		again, _, _, _ := cat.Defs(ctx, org, "orders")
		if again != first {
			t.Errorf("shared %v: second Defs read again, want the cached collection", shared)
		}
		// The stamp checks the generation only where nodes share the
		// database; it is current here.
		if err := st.Write(ctx, func(tx *store.Tx) error { return stamp.Check(ctx, tx) }); err != nil {
			t.Errorf("shared %v: Check of a current stamp: %v", shared, err)
		}
		// A change in another organisation keeps this one's cache.
		save(t, st, other, doc("elsewhere", "orders", automation.Manual, true), "")
		if again, _, _, _ := cat.Defs(ctx, org, "orders"); again != first {
			t.Errorf("shared %v: another organisation's change emptied this one's cache", shared)
		}
		save(t, st, org, doc("later", "orders", automation.Manual, true), "")
		if err := st.Write(ctx, func(tx *store.Tx) error { return stamp.Check(ctx, tx) }); shared != errors.Is(err, store.ErrStaleDefs) {
			t.Errorf("shared %v: Check of a stamp from before the change: %v", shared, err)
		}
		fresh, list, _, err := cat.Defs(ctx, org, "orders")
		if err != nil || fresh == first || len(list) != 1 {
			t.Errorf("shared %v: after a change, Defs = same collection %v, %d automations, %v; want a fresh read with the new one", shared, fresh == first, len(list), err)
		}
		if !cat.Stale(org, fmt.Errorf("write: %w", store.ErrStaleDefs)) || cat.Stale(org, store.ErrConflict) || cat.Stale(org, nil) {
			t.Error("Stale does not tell store.ErrStaleDefs from other errors")
		}
		if after, _, _, _ := cat.Defs(ctx, org, "orders"); after == fresh {
			t.Errorf("shared %v: Stale kept the organisation's cache", shared)
		}
		// No such collection: nil, cached too.
		if c, list, _, err := cat.Defs(ctx, org, "nope"); c != nil || len(list) != 0 || err != nil {
			t.Errorf("Defs of a missing collection = %v, %v, %v; want nil, none, no error", c, list, err)
		}
	}
}

// TestDefsOnStaleDefinitions: a node whose cache is behind another node's
// change (simulated by changing the database without telling the catalog)
// plans with the old definitions, and its write's check fails.
func TestDefsOnStaleDefinitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, org, cat := newCatalog(t, true)
	_, _, stamp, err := cat.Defs(ctx, org, "orders")
	if err != nil {
		t.Fatal(err)
	}
	err = st.Write(ctx, func(tx *store.Tx) error {
		// Another node's change, in the same transaction as the check.
		if err := tx.PutSecret(ctx, org, "X", "sealed"); err != nil {
			return err
		}
		return stamp.Check(ctx, tx)
	})
	if !errors.Is(err, store.ErrStaleDefs) {
		t.Errorf("Check after a change = %v, want store.ErrStaleDefs", err)
	}
	if err := st.Write(ctx, func(tx *store.Tx) error { return (catalog.Stamp{}).Check(ctx, tx) }); err != nil {
		t.Errorf("the zero Stamp checks: %v", err)
	}
}

// newCatalog returns a store with an organisation "acme", and a catalog
// over it.
func newCatalog(t *testing.T, shared bool) (*store.Store, string, *catalog.Catalog) {
	t.Helper()
	st := openStore(t)
	return st, newOrg(t, st, "acme"), catalog.New(st, newBox(t, 1), automation.Options{}, shared)
}

func TestPerOrg(t *testing.T) {
	t.Parallel()
	var p catalog.PerOrg[string, int]
	if _, _, _, ok := p.Get("a", "k"); ok {
		t.Fatal("the zero PerOrg holds a value")
	}
	_, _, since, _ := p.Get("a", "k")
	p.Put("a", "k", 3, since, 1)
	if v, gen, _, ok := p.Get("a", "k"); !ok || v != 1 || gen != 3 {
		t.Errorf("Get = %d at %d (%v), want 1 at 3", v, gen, ok)
	}
	p.Put("a", "old", 2, since, 9) // an older generation: dropped
	if _, _, _, ok := p.Get("a", "old"); ok {
		t.Error("a value of an older generation was kept")
	}
	p.Put("a", "k2", 4, since, 2) // a newer one replaces the organisation's values
	if _, _, _, ok := p.Get("a", "k"); ok {
		t.Error("a value of generation 3 was kept beside one of 4")
	}
	if v, gen, _, ok := p.Get("a", "k2"); !ok || v != 2 || gen != 4 {
		t.Errorf("Get = %d at %d (%v), want 2 at 4", v, gen, ok)
	}
	_, _, before, _ := p.Get("b", "k")
	p.Forget("a")
	if _, _, _, ok := p.Get("a", "k2"); ok {
		t.Error("Forget kept the organisation's values")
	}
	p.Put("b", "k", 1, before, 5) // read before a Forget: not kept
	if _, _, _, ok := p.Get("b", "k"); ok {
		t.Error("a value read before a Forget was kept")
	}
	_, _, since, _ = p.Get("b", "k")
	for i := range catalog.MaxEntries + 10 {
		p.Put("b", fmt.Sprint(i), 1, since, i)
	}
	n := 0
	for i := range catalog.MaxEntries + 10 {
		if _, _, _, ok := p.Get("b", fmt.Sprint(i)); ok {
			n++
		}
	}
	if n == 0 || n > catalog.MaxEntries {
		t.Errorf("%d values held, want between 1 and MaxEntries (%d)", n, catalog.MaxEntries)
	}
}
