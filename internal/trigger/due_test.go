package trigger_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/catalog"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/store"
	"github.com/autohook/autohook/internal/trigger"
)

// clock is a fake clock the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

type dueFixture struct {
	t    *testing.T
	st   *store.Store
	cat  *catalog.Catalog
	fire *trigger.Firer
	scan *trigger.Scanner
	clk  *clock
	org  string
	coll *record.Collection
}

func newDueFixture(t *testing.T) *dueFixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	st, err := store.Open(ctx, store.Config{URL: "sqlite:" + filepath.Join(t.TempDir(), "db"), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	box, _ := secret.NewBox(make([]byte, 32))
	cat := catalog.New(st, box, automation.Options{}, false)
	log := slog.New(slog.DiscardHandler)
	f := &dueFixture{t: t, st: st, cat: cat, fire: trigger.New(cat, log), clk: clk}
	f.scan = trigger.NewScanner(st, f.fire, cat, f.clk.now, log)
	f.coll = &record.Collection{Key: "tasks", Name: "Tasks", Fields: []record.Field{
		{Key: "due", Type: record.DateTime}, {Key: "day", Type: record.Date}, {Key: "note", Type: record.Text}}}
	f.write(func(tx *store.Tx) error {
		org, err := tx.CreateOrganisation(ctx, "A")
		if err != nil {
			return err
		}
		f.org = org.ID
		return tx.CreateCollection(ctx, org.ID, f.coll)
	})
	return f
}

func (f *dueFixture) write(fn func(tx *store.Tx) error) {
	f.t.Helper()
	if err := f.st.Write(context.Background(), fn); err != nil {
		f.t.Fatal(err)
	}
}

// automation saves a record_due automation and builds its due rows, as a
// save through the API does.
func (f *dueFixture) automation(field, offset string, enabled bool) *automation.Automation {
	f.t.Helper()
	ctx := context.Background()
	doc := &automation.Automation{Name: "due", Collection: "tasks", Enabled: enabled,
		Trigger: automation.Trigger{Type: automation.RecordDue, Field: field, Offset: offset},
		Steps:   []automation.StepSpec{{Type: automation.TypeCallAPI, URL: "https://example.com/{record.id}"}}}
	if _, _, err := automation.Compile(doc, f.coll, "", automation.Options{}); err != nil {
		f.t.Fatal(err)
	}
	f.write(func(tx *store.Tx) error {
		if err := tx.SaveAutomation(ctx, f.org, doc, ""); err != nil {
			return err
		}
		return tx.DeleteDueOf(ctx, f.org, doc.ID)
	})
	if enabled {
		comp, err := f.cat.Get(ctx, f.org, doc.ID, doc.Version)
		if err != nil {
			f.t.Fatal(err)
		}
		if err := f.fire.RebuildDue(ctx, f.st, f.org, comp, f.clk.now()); err != nil {
			f.t.Fatal(err)
		}
	}
	return doc
}

// put creates (id == "") or updates a record at the fake time, as
// autohook does: the plan made first, then the write and the plan applied.
func (f *dueFixture) put(rec *record.Record, fields map[string]any) *record.Record {
	f.t.Helper()
	ctx := context.Background()
	now := f.clk.now()
	if rec == nil {
		rec = &record.Record{ID: store.NewRecordID(), Collection: "tasks", Fields: fields, CreatedAt: now, UpdatedAt: now, Version: 1}
		plan, err := f.fire.Plan(ctx, trigger.Change{OrgID: f.org, Record: rec, At: now})
		if err != nil {
			f.t.Fatal(err)
		}
		f.write(func(tx *store.Tx) error {
			if err := tx.InsertRecord(ctx, f.org, rec); err != nil {
				return err
			}
			_, err := plan.Apply(ctx, tx)
			return err
		})
		return rec
	}
	prev, err := f.st.Record(ctx, f.org, "tasks", rec.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	next := *prev
	next.Fields = record.Merge(prev.Fields, fields)
	after := next
	after.Version, after.UpdatedAt = prev.Version+1, now
	plan, err := f.fire.Plan(ctx, trigger.Change{OrgID: f.org, Record: &after, Previous: prev, At: now})
	if err != nil {
		f.t.Fatal(err)
	}
	f.write(func(tx *store.Tx) error {
		if err := tx.UpdateRecordAt(ctx, f.org, &next, now); err != nil {
			return err
		}
		_, err := plan.Apply(ctx, tx)
		return err
	})
	return &next
}

// tick scans at the fake time and returns how many runs fired.
func (f *dueFixture) tick() int {
	f.t.Helper()
	n, err := f.scan.Tick(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *dueFixture) runs() []*automation.Run {
	f.t.Helper()
	runs, _, err := f.st.Runs(context.Background(), f.org, store.RunFilter{}, store.Page{Limit: 500})
	if err != nil {
		f.t.Fatal(err)
	}
	return runs
}

func at(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func TestDueFiresOncePerValue(t *testing.T) {
	f := newDueFixture(t)
	f.automation("due", "", true)
	due := f.clk.now().Add(time.Hour)
	rec := f.put(nil, map[string]any{"due": at(due)})

	if n := f.tick(); n != 0 {
		t.Fatalf("an hour early: %d runs, want 0", n)
	}
	f.clk.advance(59*time.Minute + 59*time.Second)
	if n := f.tick(); n != 0 {
		t.Fatalf("a second early: %d runs, want 0", n)
	}
	f.clk.advance(time.Second)
	if n := f.tick(); n != 1 {
		t.Fatalf("at the due time: %d runs, want 1", n)
	}
	runs := f.runs()
	if len(runs) != 1 || runs[0].Trigger.Type != automation.RecordDue || !runs[0].Trigger.At.Equal(due) {
		t.Fatalf("runs = %+v, want one record_due run at %v", runs, due)
	}
	f.clk.advance(time.Hour)
	if n := f.tick(); n != 0 {
		t.Fatalf("later: %d more runs, want 0 (once per value)", n)
	}
	// Saving the record again with the same (now past) value fires nothing.
	rec = f.put(rec, map[string]any{"note": "touched"})
	if n := f.tick(); n != 0 {
		t.Fatalf("after an unrelated change: %d runs, want 0", n)
	}
	// A new value in the future fires again, at its own time.
	f.put(rec, map[string]any{"due": at(f.clk.now().Add(10 * time.Minute))})
	f.clk.advance(10 * time.Minute)
	if n := f.tick(); n != 1 {
		t.Fatalf("the changed value: %d runs, want 1", n)
	}
}

func TestDuePastValuesNeverFire(t *testing.T) {
	f := newDueFixture(t)
	// Values already past when the automation is enabled never fire.
	old := f.put(nil, map[string]any{"due": at(f.clk.now().Add(-time.Minute))})
	future := f.put(nil, map[string]any{"due": at(f.clk.now().Add(time.Minute))})
	f.automation("due", "", true)
	// A value already past when the record is saved never fires.
	f.put(nil, map[string]any{"due": at(f.clk.now().Add(-time.Second))})
	f.clk.advance(2 * time.Minute)
	if n := f.tick(); n != 1 {
		t.Fatalf("runs = %d, want 1 (only the future value)", n)
	}
	if r := f.runs(); r[0].RecordID != future.ID {
		t.Errorf("fired for %s, want %s (not %s)", r[0].RecordID, future.ID, old.ID)
	}
}

func TestDueUnchangedValueStillFires(t *testing.T) {
	f := newDueFixture(t)
	f.automation("due", "", true)
	rec := f.put(nil, map[string]any{"due": at(f.clk.now().Add(time.Minute))})
	f.clk.advance(2 * time.Minute)
	// The due time has passed but the scanner has not run yet: an
	// unrelated change must not cancel the pending firing.
	f.put(rec, map[string]any{"note": "edited just after the due time"})
	if n := f.tick(); n != 1 {
		t.Fatalf("runs = %d, want 1", n)
	}
}

func TestDueOffsetAndDateFields(t *testing.T) {
	f := newDueFixture(t)
	f.automation("day", "-24h", true)
	// due day 2026-03-03 (midnight UTC), a day before: 2026-03-02T00:00Z
	f.put(nil, map[string]any{"day": "2026-03-03"})
	f.clk.t = time.Date(2026, 3, 1, 23, 59, 59, 0, time.UTC)
	if n := f.tick(); n != 0 {
		t.Fatalf("before the offset time: %d runs", n)
	}
	f.clk.t = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	if n := f.tick(); n != 1 {
		t.Fatalf("at the offset time: %d runs, want 1", n)
	}
}

func TestDueDisabledAndDeleted(t *testing.T) {
	f := newDueFixture(t)
	doc := f.automation("due", "", true)
	rec := f.put(nil, map[string]any{"due": at(f.clk.now().Add(time.Minute))})
	// Disabling drops the pending rows.
	doc.Enabled = false
	f.write(func(tx *store.Tx) error {
		if err := tx.SaveAutomation(context.Background(), f.org, doc, ""); err != nil {
			return err
		}
		return tx.DeleteDueOf(context.Background(), f.org, doc.ID)
	})
	f.clk.advance(2 * time.Minute)
	if n := f.tick(); n != 0 {
		t.Fatalf("disabled automation fired %d runs", n)
	}
	// Deleting a record drops its rows.
	f.automation("due", "", true)
	rec = f.put(rec, map[string]any{"due": at(f.clk.now().Add(time.Minute))})
	f.write(func(tx *store.Tx) error { return tx.DeleteRecord(context.Background(), f.org, "tasks", rec.ID) })
	f.clk.advance(2 * time.Minute)
	if n := f.tick(); n != 0 {
		t.Fatalf("deleted record fired %d runs", n)
	}
}

// TestDueManyRecords checks that a scan does not read records that are not
// due: with many future values, a tick early on fires nothing, and a tick
// after them fires each once.
func TestDueManyRecords(t *testing.T) {
	f := newDueFixture(t)
	f.automation("due", "", true)
	const n = 1200
	ctx := context.Background()
	recs := make([]*record.Record, n)
	plans := make([]*trigger.Plan, n)
	for i := range n {
		recs[i] = &record.Record{ID: store.NewRecordID(), Collection: "tasks", Fields: map[string]any{"due": at(f.clk.now().Add(time.Duration(i+1) * time.Second))}}
		var err error
		if plans[i], err = f.fire.Plan(ctx, trigger.Change{OrgID: f.org, Record: recs[i], At: f.clk.now()}); err != nil {
			t.Fatal(err)
		}
	}
	f.write(func(tx *store.Tx) error {
		for i := range n {
			if err := tx.InsertRecord(ctx, f.org, recs[i]); err != nil {
				return err
			}
			if _, err := plans[i].Apply(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
	if got := f.tick(); got != 0 {
		t.Fatalf("early tick fired %d", got)
	}
	f.clk.advance(n/2*time.Second + time.Millisecond)
	if got := f.tick(); got != n/2 {
		t.Fatalf("half-way: %d runs, want %d", got, n/2)
	}
	f.clk.advance(time.Hour)
	if got := f.tick(); got != n/2 {
		t.Fatalf("the rest: %d runs, want %d", got, n/2)
	}
	if got := len(f.runs()); got != 500 { // one page
		t.Fatalf("listing: %d", got)
	}
}

// TestDueRowsBuiltByTheScanner: the due rows of a saved automation are
// built by the scanner, so a crash right after the save loses nothing; a
// value that was ahead when the automation was saved fires even if its time
// came before the rows were built, and one already past never does.
func TestDueRowsBuiltByTheScanner(t *testing.T) {
	f := newDueFixture(t)
	ctx := context.Background()
	soon := f.put(nil, map[string]any{"due": at(f.clk.now().Add(time.Second))})
	later := f.put(nil, map[string]any{"due": at(f.clk.now().Add(time.Hour))})
	f.put(nil, map[string]any{"due": at(f.clk.now().Add(-time.Minute))}) // already past: never
	doc := &automation.Automation{Name: "due", Collection: "tasks", Enabled: true,
		Trigger: automation.Trigger{Type: automation.RecordDue, Field: "due"},
		Steps:   []automation.StepSpec{{Type: automation.TypeCallAPI, URL: "https://example.com/{record.id}"}}}
	if _, _, err := automation.Compile(doc, f.coll, "", automation.Options{}); err != nil {
		t.Fatal(err)
	}
	// Saved, and no rows built yet (as after a crash right after the save).
	f.write(func(tx *store.Tx) error { return tx.SaveAutomation(ctx, f.org, doc, "") })
	f.clk.advance(2 * time.Second)
	if n := f.tick(); n != 1 {
		t.Fatalf("first tick fired %d, want 1 (the value that came due while the rows were not built)", n)
	}
	if r := f.runs(); len(r) != 1 || r[0].RecordID != soon.ID {
		t.Fatalf("runs = %v, want one for %s", r, soon.ID)
	}
	f.clk.advance(time.Hour)
	if n := f.tick(); n != 1 {
		t.Fatalf("an hour later fired %d, want 1", n)
	}
	if r := f.runs(); len(r) != 2 || r[0].RecordID != later.ID {
		t.Fatalf("runs = %v, want the later one too", r)
	}
}

// TestDueConditionSeesTheCommittedRecord: the scanner evaluates a due
// row's condition before the transaction that claims the row; a record
// changed in between leaves the row for the next scan, which evaluates the
// condition again against the record as it is.
func TestDueConditionSeesTheCommittedRecord(t *testing.T) {
	f := newDueFixture(t)
	ctx := context.Background()
	doc := &automation.Automation{Name: "due", Collection: "tasks", Enabled: true, Condition: `record.note == "go"`,
		Trigger: automation.Trigger{Type: automation.RecordDue, Field: "due"},
		Steps:   []automation.StepSpec{{Type: automation.TypeCallAPI, URL: "https://example.com/{record.id}"}}}
	if _, _, err := automation.Compile(doc, f.coll, "", automation.Options{}); err != nil {
		t.Fatal(err)
	}
	f.write(func(tx *store.Tx) error { return tx.SaveAutomation(ctx, f.org, doc, "") })
	comp, err := f.cat.Get(ctx, f.org, doc.ID, doc.Version)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.fire.RebuildDue(ctx, f.st, f.org, comp, f.clk.now()); err != nil {
		t.Fatal(err)
	}
	rec := f.put(nil, map[string]any{"due": at(f.clk.now().Add(time.Minute)), "note": "wait"})
	f.clk.advance(2 * time.Minute)

	ready, err := f.st.DueReady(ctx, f.clk.now(), 10)
	if err != nil || len(ready) != 1 {
		t.Fatalf("DueReady = %v, %v, want one row", ready, err)
	}
	plan, err := f.scan.PlanDue(ctx, ready[0]) // note is "wait": false
	if err != nil {
		t.Fatal(err)
	}
	f.put(rec, map[string]any{"note": "go"}) // the same due value: the row stays
	f.write(func(tx *store.Tx) error {
		claimed, started, err := plan.Apply(ctx, tx)
		if claimed != 0 || started != 0 {
			t.Errorf("a plan made before the record changed claimed %d rows and started %d runs, want none", claimed, started)
		}
		return err
	})
	if n := f.tick(); n != 1 {
		t.Fatalf("the next scan started %d runs, want 1", n)
	}
	runs := f.runs()
	if len(runs) != 1 || runs[0].Record["note"] != "go" {
		t.Fatalf("runs = %+v, want one that saw note go", runs)
	}
	if n := f.tick(); n != 0 {
		t.Fatalf("the row fired again: %d runs", n)
	}
}
