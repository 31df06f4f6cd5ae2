package storetest

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/store"
)

func putSecret(t *testing.T, st *store.Store, org, name, sealed string) {
	t.Helper()
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.PutSecret(ctx, org, name, sealed) })
}

func testPutSecret(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	putSecret(t, st, a, "CRM_TOKEN", "sealed-1")
	putSecret(t, st, b, "CRM_TOKEN", "sealed-b") // the same name in another organisation
	first, err := st.Secrets(ctx, a)
	if err != nil || len(first) != 1 {
		t.Fatalf("secrets = %v, %v", first, err)
	}
	putSecret(t, st, a, "CRM_TOKEN", "sealed-2") // replaces
	second, err := st.Secrets(ctx, a)
	if err != nil || len(second) != 1 {
		t.Fatalf("secrets = %v, %v", second, err)
	}
	if !second[0].CreatedAt.Equal(first[0].CreatedAt) || second[0].UpdatedAt.Before(first[0].UpdatedAt) {
		t.Errorf("replacing: %+v then %+v; want the creation time kept", first[0], second[0])
	}
	if m, err := st.SealedSecrets(ctx, a); err != nil || !maps.Equal(m, map[string]string{"CRM_TOKEN": "sealed-2"}) {
		t.Errorf("sealed = %v, %v", m, err)
	}
}

func testDeleteSecret(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	putSecret(t, st, a, "K", "sealed")
	err := try(st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteSecret(ctx, b, "K") })
	wantErr(t, "another organisation's secret", err, store.ErrNotFound)
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteSecret(ctx, a, "K") })
	if m, err := st.SealedSecrets(ctx, a); err != nil || len(m) != 0 {
		t.Errorf("after deleting: %v, %v", m, err)
	}
	err = try(st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteSecret(ctx, a, "K") })
	wantErr(t, "deleting twice", err, store.ErrNotFound)
}

func testSecrets(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	if got, err := st.Secrets(ctx, a); err != nil || got == nil || len(got) != 0 {
		t.Errorf("no secrets: %#v, %v; want an empty list", got, err)
	}
	for _, n := range []string{"b", "A", "a"} {
		putSecret(t, st, a, n, "sealed-"+n)
	}
	putSecret(t, st, b, "other", "x")
	got, err := st.Secrets(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sec := range got {
		names = append(names, sec.Name)
		if sec.CreatedAt.IsZero() || sec.UpdatedAt.IsZero() {
			t.Errorf("%s without times: %+v", sec.Name, sec)
		}
	}
	if d := cmp.Diff([]string{"A", "a", "b"}, names); d != "" {
		t.Errorf("names in byte order (-want +got):\n%s", d)
	}
}

func testSealedSecrets(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	putSecret(t, st, a, "ONE", "sealed-1")
	putSecret(t, st, a, "TWO", "sealed-2")
	putSecret(t, st, b, "ONE", "sealed-b")
	if m, err := st.SealedSecrets(ctx, a); err != nil || !maps.Equal(m, map[string]string{"ONE": "sealed-1", "TWO": "sealed-2"}) {
		t.Errorf("sealed = %v, %v", m, err)
	}
	if m, err := st.SealedSecrets(ctx, newOrg(t, st)); err != nil || m == nil || len(m) != 0 {
		t.Errorf("an organisation without secrets: %#v, %v; want an empty map", m, err)
	}
}

// notHeld holds no generation's secrets (RunAndSealedSecrets reads them).
func notHeld(int64) bool { return false }

func testRunAndSealedSecrets(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	putSecret(t, st, a, "ONE", "sealed-1")
	// A run whose record and automation do not exist: no record, not
	// paused.
	r := newRun(t, st, a, "rec_a")
	var asked []int64
	w, gen, sealed, err := st.RunAndSealedSecrets(ctx, a, r.ID, func(gen int64) bool { asked = append(asked, gen); return false })
	if err != nil {
		t.Fatal(err)
	}
	if want, err := st.CatalogGen(ctx, a); err != nil || gen != want || !slices.Equal(asked, []int64{want}) {
		t.Errorf("generation %d, asked about %v; want CatalogGen's %d (%v), asked once", gen, asked, want, err)
	}
	// Held at that generation already: the secrets are not read.
	if again, g, sealed, err := st.RunAndSealedSecrets(ctx, a, r.ID, func(g int64) bool { return g == gen }); err != nil || g != gen || sealed != nil || !reflect.DeepEqual(again, w) {
		t.Errorf("secrets held: %+v, %d, %v, %v; want the run, generation %d, no secrets", again, g, sealed, err, gen)
	}
	want, err := st.Run(ctx, a, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(w.Run, want) || w.Paused || w.Record != nil || !maps.Equal(sealed, map[string]string{"ONE": "sealed-1"}) {
		t.Errorf("RunAndSealedSecrets = %+v, %v; want %+v, not paused, no record, and ONE", w, sealed, want)
	}
	// The run's record as it is now, and its automation's pause.
	doc := callAPI("paused", "manual")
	doc.PauseAfterFailures = pausing(1)
	doc = newAutomation(t, st, a, doc)
	rec := newRecord(t, st, a, map[string]any{"name": "Ada"})
	rv := newRunValue(rec.ID)
	rv.AutomationID = doc.ID
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.InsertRun(ctx, a, rv) })
	check := func(paused bool) {
		t.Helper()
		w, _, _, err := st.RunAndSealedSecrets(ctx, a, rv.ID, notHeld)
		if err != nil {
			t.Fatal(err)
		}
		cur, err := st.Record(ctx, a, "leads", rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if w.Paused != paused || !reflect.DeepEqual(w.Record, cur) || w.Run.ID != rv.ID {
			t.Errorf("RunAndSealedSecrets = paused %v, record %+v; want paused %v, record %+v", w.Paused, w.Record, paused, cur)
		}
	}
	check(false)
	count(t, st, a, doc.ID, true) // pauses it
	check(true)
	rb := newRun(t, st, b, "rec_b")
	if _, _, sealed, err := st.RunAndSealedSecrets(ctx, b, rb.ID, notHeld); err != nil || sealed == nil || len(sealed) != 0 {
		t.Errorf("an organisation without secrets: %#v, %v; want an empty map", sealed, err)
	}
	for _, c := range []struct{ name, org, id string }{{"another organisation's", b, r.ID}, {"unknown", a, "run_unknown"}, {"invalid text", a, "run_\xff"}} {
		if _, _, _, err := st.RunAndSealedSecrets(ctx, c.org, c.id, notHeld); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s run: %v, want ErrNotFound", c.name, err)
		}
	}
}
