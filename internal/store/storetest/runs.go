package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/store"
)

func testInsertRun(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	org := newOrg(t, st)
	r := newRun(t, st, org, "rec_a")
	if r.ID[:4] != "run_" || r.CreatedAt.IsZero() || !r.UpdatedAt.Equal(r.CreatedAt) || r.Fields == nil {
		t.Errorf("inserted %+v", r)
	}
	got, err := st.Run(ctx, org, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := *r
	want.Steps = withNoAttempts(r.Steps)
	if d := cmp.Diff(&want, got); d != "" {
		t.Errorf("read back (-inserted +read):\n%s", d)
	}
	// A run may be inserted finished, with its error (a condition that
	// failed to evaluate).
	now := at(time.Now())
	failed := newRunValue("rec_b")
	failed.Status, failed.FinishedAt, failed.Previous = automation.StatusFailed, &now, nil
	failed.Error = &automation.AttemptError{Class: retry.Render, Message: "condition: unknown name x"}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.InsertRun(ctx, org, failed) })
	got, err = st.Run(ctx, org, failed.ID)
	if err != nil {
		t.Fatal(err)
	}
	want = *failed
	want.Steps = withNoAttempts(failed.Steps)
	if d := cmp.Diff(&want, got); d != "" {
		t.Errorf("a failed run read back (-inserted +read):\n%s", d)
	}
}

// withNoAttempts is steps as read without their attempts: empty lists.
func withNoAttempts(steps []automation.StepState) []automation.StepState {
	out := slices.Clone(steps)
	for i := range out {
		out[i].Attempts = []automation.Attempt{}
	}
	return out
}

func testUpdateRun(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	r := newRun(t, st, a, "rec_a")
	next := at(time.Now().Add(time.Minute))
	r.AutomationVersion = 2
	r.Status, r.Seq, r.NextAttemptAt = automation.StatusRetrying, 2, &next
	r.Steps[0].Status, r.Steps[0].AttemptCount, r.Steps[0].NextAttemptAt, r.Steps[0].RetryBase, r.Steps[0].Deferrals = automation.StepRetrying, 3, &next, 1, 2
	r.Fields = map[string]any{"crmId": "c-1"}
	r.Record = map[string]any{"id": "rec_a", "name": "refreshed"}
	r.Error = &automation.AttemptError{Class: retry.HTTP5xx, Message: "the receiver answered 503"}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateRun(ctx, a, r, 1) })
	got, err := st.Run(ctx, a, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := *r
	want.Steps = withNoAttempts(r.Steps)
	if d := cmp.Diff(&want, got); d != "" {
		t.Errorf("read back (-updated +read):\n%s", d)
	}
	// A writer holding an old seq loses; so does another organisation.
	err = try(st, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateRun(ctx, a, r, 1) })
	wantErr(t, "a stale seq", err, store.ErrConflict)
	wantErr(t, "a stale seq", err, store.ErrRunChanged)
	err = try(st, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateRun(ctx, b, r, 2) })
	wantErr(t, "another organisation's run", err, store.ErrConflict)
	// Clearing the error and the next attempt time.
	r.Error, r.NextAttemptAt, r.Status, r.Seq = nil, nil, automation.StatusSucceeded, 3
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateRun(ctx, a, r, 2) })
	if got, err := st.Run(ctx, a, r.ID); err != nil || got.Error != nil || got.NextAttemptAt != nil {
		t.Errorf("cleared: %+v, %v", got, err)
	}
}

func testMarkRunRunning(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	status := func(r *automation.Run) automation.Status {
		got, err := st.Run(ctx, a, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status
	}
	mark := func(org string, r *automation.Run, seq int64) {
		write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.MarkRunRunning(ctx, org, r.ID, seq) })
	}
	queued := newRun(t, st, a, "rec_a")
	mark(b, queued, 1)
	mark(a, queued, 2)
	if got := status(queued); got != automation.StatusQueued {
		t.Errorf("marked with another organisation or seq: %s, want queued", got)
	}
	mark(a, queued, 1)
	if got := status(queued); got != automation.StatusRunning {
		t.Errorf("a queued run marked: %s, want running", got)
	}
	for _, from := range []automation.Status{automation.StatusRetrying, automation.StatusSucceeded, automation.StatusCancelled} {
		r := newRunValue("rec_a")
		r.Status = from
		write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.InsertRun(ctx, a, r) })
		mark(a, r, 1)
		want := from
		if from == automation.StatusRetrying {
			want = automation.StatusRunning
		}
		if got := status(r); got != want {
			t.Errorf("a %s run marked: %s, want %s", from, got, want)
		}
	}
}

func testInsertAttempt(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	org := newOrg(t, st)
	r := newRun(t, st, org, "rec_a")
	first := failedAttempt(1)
	second := &automation.Attempt{N: 2, StartedAt: at(time.Now()), DurationMs: 0.001,
		Request:  &automation.HTTPRequest{Method: "GET", URL: "https://crm.example.com/leads?id=1", Headers: map[string]string{}},
		Response: &automation.HTTPResponse{Status: 200, Headers: map[string]string{}, Body: `{"id":"c-1"}`},
		Fields:   map[string]any{"crmId": "c-1"}}
	local := &automation.Attempt{N: 1, StartedAt: at(time.Now()), Fields: map[string]any{"stage": "Won"}}
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		for _, x := range []struct {
			step int
			a    *automation.Attempt
		}{{0, first}, {0, second}, {1, local}} {
			if err := tx.InsertAttempt(ctx, r.ID, x.step, x.a); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := st.RunWithAttempts(ctx, org, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]automation.Attempt{*first, *second}, got.Steps[0].Attempts); d != "" {
		t.Errorf("step 0 (-inserted +read):\n%s", d)
	}
	if d := cmp.Diff([]automation.Attempt{*local}, got.Steps[1].Attempts); d != "" {
		t.Errorf("step 1 (-inserted +read):\n%s", d)
	}
	err = try(st, func(ctx context.Context, tx *store.Tx) error { return tx.InsertAttempt(ctx, r.ID, 0, failedAttempt(1)) })
	if err == nil {
		t.Error("a second attempt 1 of step 0 was stored")
	}
}

func testRun(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	r := newRun(t, st, a, "rec_a")
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.InsertAttempt(ctx, r.ID, 0, failedAttempt(1)) })
	got, err := st.Run(ctx, a, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Steps[0].Attempts) != 0 {
		t.Errorf("Run loaded %d attempts, want none", len(got.Steps[0].Attempts))
	}
	for _, c := range []struct{ name, org, id string }{{"another organisation's", b, r.ID}, {"unknown", a, "run_unknown"}} {
		if _, err := st.Run(ctx, c.org, c.id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", c.name, err)
		}
	}
}

func testRunWithAttempts(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	r := newRun(t, st, a, "rec_a")
	got, err := st.RunWithAttempts(ctx, a, r.ID)
	if err != nil || len(got.Steps) != 2 || got.Steps[0].Attempts == nil || len(got.Steps[0].Attempts) != 0 {
		t.Fatalf("a run without attempts: %+v, %v", got, err)
	}
	// Attempts come in order of their number, whatever the insert order,
	// and an attempt of a step the run does not have is left out.
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		for _, x := range []struct{ step, n int }{{0, 2}, {0, 1}, {5, 1}} {
			if err := tx.InsertAttempt(ctx, r.ID, x.step, failedAttempt(x.n)); err != nil {
				return err
			}
		}
		return nil
	})
	got, err = st.RunWithAttempts(ctx, a, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ns []int
	for _, at := range got.Steps[0].Attempts {
		ns = append(ns, at.N)
	}
	if !slices.Equal(ns, []int{1, 2}) || len(got.Steps[1].Attempts) != 0 {
		t.Errorf("attempts %v and %d, want [1 2] and none", ns, len(got.Steps[1].Attempts))
	}
	if _, err := st.RunWithAttempts(ctx, b, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another organisation's run: %v, want ErrNotFound", err)
	}
}

func testRuns(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	r1 := newRun(t, st, a, "rec_1")
	r2 := newRunValue("rec_2")
	r2.AutomationID = "aut_y"
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.InsertRun(ctx, a, r2) })
	r3 := newRun(t, st, a, "rec_1")
	finish(t, st, a, r3, automation.StatusFailed)
	newRun(t, st, b, "rec_1")
	ids := func(f store.RunFilter) []string {
		list := listAll(t, func(p store.Page) ([]*automation.Run, string, error) { return st.Runs(ctx, a, f, p) })
		var out []string
		for _, r := range list {
			out = append(out, r.ID)
		}
		return out
	}
	for _, c := range []struct {
		name string
		f    store.RunFilter
		want []string
	}{
		{"all, newest first", store.RunFilter{}, []string{r3.ID, r2.ID, r1.ID}},
		{"status", store.RunFilter{Status: automation.StatusFailed}, []string{r3.ID}},
		{"another status", store.RunFilter{Status: automation.StatusSucceeded}, nil},
		{"automation", store.RunFilter{AutomationID: "aut_y"}, []string{r2.ID}},
		{"record", store.RunFilter{RecordID: "rec_1"}, []string{r3.ID, r1.ID}},
		{"record and status", store.RunFilter{RecordID: "rec_1", Status: automation.StatusQueued}, []string{r1.ID}},
		{"since the second", store.RunFilter{Since: r2.CreatedAt}, []string{r3.ID, r2.ID}},
		{"until the second", store.RunFilter{Until: r2.CreatedAt}, []string{r1.ID}},
		{"since an hour ahead", store.RunFilter{Since: time.Now().Add(time.Hour)}, nil},
	} {
		if got := ids(c.f); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func testCountRuns(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.fresh(t)
	a, b := newOrg(t, st), newOrg(t, st)
	for range 3 {
		finish(t, st, a, newRun(t, st, a, "rec_1"), automation.StatusFailed)
	}
	newRun(t, st, a, "rec_2")
	finish(t, st, b, newRun(t, st, b, "rec_1"), automation.StatusFailed)
	for _, c := range []struct {
		name  string
		f     store.RunFilter
		limit int
		want  int
	}{
		{"all of one organisation", store.RunFilter{}, 100, 4},
		{"status", store.RunFilter{Status: automation.StatusFailed}, 100, 3},
		{"record", store.RunFilter{RecordID: "rec_2"}, 100, 1},
		{"up to the limit", store.RunFilter{Status: automation.StatusFailed}, 2, 2},
		{"none", store.RunFilter{Status: automation.StatusSkipped}, 100, 0},
	} {
		n, err := st.CountRuns(ctx, a, c.f, c.limit)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if n != c.want {
			t.Errorf("%s: %d runs, want %d", c.name, n, c.want)
		}
	}
}

func testPruneRuns(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.fresh(t)
	a, b := newOrg(t, st), newOrg(t, st)
	var finished []*automation.Run
	for i, status := range []automation.Status{automation.StatusSucceeded, automation.StatusFailed, automation.StatusCancelled} {
		org := []string{a, b, a}[i]
		r := newRun(t, st, org, "rec_a")
		write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.InsertAttempt(ctx, r.ID, 0, failedAttempt(1)) })
		finish(t, st, org, r, status)
		finished = append(finished, r)
	}
	var unfinished []*automation.Run
	for _, status := range []automation.Status{automation.StatusQueued, automation.StatusRunning, automation.StatusRetrying} {
		r := newRunValue("rec_a")
		r.Status = status
		write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.InsertRun(ctx, a, r) })
		unfinished = append(unfinished, r)
	}
	prune := func(before time.Time, limit int) int {
		var n int
		write(t, st, func(ctx context.Context, tx *store.Tx) error {
			var err error
			n, err = tx.PruneRuns(ctx, before, limit)
			return err
		})
		return n
	}
	if n := prune(finished[0].CreatedAt.Add(-time.Millisecond), 100); n != 0 {
		t.Errorf("pruned %d runs created after the cutoff", n)
	}
	if n := prune(time.Now().Add(time.Hour), 2); n != 2 {
		t.Errorf("pruned %d, want the limit of 2", n)
	}
	if n := prune(time.Now().Add(time.Hour), 100); n != 1 {
		t.Errorf("pruned %d, want the last finished run", n)
	}
	for _, r := range finished {
		org := a
		if r == finished[1] {
			org = b
		}
		if _, err := st.RunWithAttempts(ctx, org, r.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("pruned run %s: %v, want ErrNotFound", r.Status, err)
		}
	}
	// Runs still to finish are kept however old: their jobs would find
	// them gone.
	for _, r := range unfinished {
		if _, err := st.Run(ctx, a, r.ID); err != nil {
			t.Errorf("a %s run was pruned: %v", r.Status, err)
		}
	}
	// The attempts went with their runs: a pruned run's attempt key is free.
	err := try(st, func(ctx context.Context, tx *store.Tx) error {
		return tx.InsertAttempt(ctx, finished[0].ID, 0, failedAttempt(1))
	})
	if err != nil {
		t.Errorf("the pruned run's attempt is still there: %v", err)
	}
}

// testKeepAttempt: an attempt whose run moved on is kept in history unless
// its number is taken; a taken number is reported, never an error.
func testKeepAttempt(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	org := newOrg(t, st)
	r := newRun(t, st, org, "rec_a")
	first, again := failedAttempt(1), failedAttempt(1)
	again.Response.Status, again.Error.Message = 502, "the receiver answered 502"
	for _, c := range []struct {
		name string
		a    *automation.Attempt
		want bool
	}{{"a free number", first, true}, {"a taken number", again, false}} {
		var kept bool
		write(t, st, func(ctx context.Context, tx *store.Tx) (err error) {
			kept, err = tx.KeepAttempt(ctx, r.ID, 0, c.a)
			return err
		})
		if kept != c.want {
			t.Errorf("%s: kept %v, want %v", c.name, kept, c.want)
		}
	}
	got, err := st.RunWithAttempts(ctx, org, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]automation.Attempt{*first}, got.Steps[0].Attempts); d != "" {
		t.Errorf("step 0 (-first +read): the attempt that found its number taken must leave history as it was:\n%s", d)
	}
}

// testHandBackRun: a run held at its generation goes to the next one with
// a job of its own; a run that moved on, or finished, is left alone.
func testHandBackRun(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.open(t, store.Config{})
	org := newOrg(t, st)
	held, moved, done := newRun(t, st, org, "rec_a"), newRun(t, st, org, "rec_b"), newRun(t, st, org, "rec_c")
	finish(t, st, org, done, automation.StatusSucceeded)
	skipped := newRun(t, st, org, "rec_d") // finished too: its automation was paused
	finish(t, st, org, skipped, automation.StatusSkipped)
	later := time.Now().Add(time.Hour)
	for _, c := range []struct {
		name    string
		run     *automation.Run
		seq     int64
		want    bool
		wantSeq int64
	}{
		{"held at its generation", held, 1, true, 2},
		{"moved on", moved, 0, false, 1},
		{"handed back twice", held, 1, false, 2},
		{"finished", done, done.Seq, false, done.Seq},
		{"skipped", skipped, skipped.Seq, false, skipped.Seq},
	} {
		before, err := st.CountJobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ok bool
		write(t, st, func(ctx context.Context, tx *store.Tx) (err error) {
			ok, err = tx.HandBackRun(ctx, store.RunJob{OrgID: org, RunID: c.run.ID, Seq: c.seq}, later)
			return err
		})
		after, err := st.CountJobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.Run(ctx, org, c.run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ok != c.want || got.Seq != c.wantSeq || after-before != map[bool]int{true: 1, false: 0}[c.want] {
			t.Errorf("%s: handed back %v, seq %d, %d jobs added; want %v, seq %d", c.name, ok, got.Seq, after-before, c.want, c.wantSeq)
		}
	}
}
