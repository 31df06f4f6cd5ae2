// Package storetest is the storage conformance suite: a subtest for every
// exported method of internal/store, run against each database the store
// supports, in the manner of River's riverdrivertest. Every backend passes
// the same suite, so the rest of Autohook can rely on one behaviour.
//
// Adding a store method means adding its subtest: a function here (in the
// file of its concept) and a line in the subtests table below.
// TestEveryMethodHasASubtest fails until both exist.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/store"
)

// Backend is a database the store runs on, as the suite needs it.
type Backend struct {
	// Name is what the store's Kind answers for it: "sqlite", "postgres".
	Name string
	// NewURL returns the URL of a new database for t, removed when t ends.
	NewURL func(t *testing.T) string
	// Clustered says several nodes (stores) may share one database at once:
	// transactions then overlap, and row locks, advisory locks and
	// SKIP LOCKED matter (PostgreSQL). A backend that is not clustered has
	// one process per database and one writer (SQLite).
	Clustered bool
}

// subtests has one entry per exported function and method of the store
// package, named as TestEveryMethodHasASubtest spells it: "Write" for a
// method of *Store or *Tx, "RunJob.Kind" for a method of another type,
// "Copy" for a function. Keep them grouped by concept, like the files.
var subtests = []struct {
	name string
	test func(t *testing.T, s *suite)
}{
	// lifecycle.go
	{"Open", testOpen},
	{"SchemaID", testSchemaID},
	{"Kind", testKind},
	{"Stats", testStats},
	{"CountStatementTexts", testCountStatementTexts},
	{"SizeBytes", testSizeBytes},
	{"Now", testNow},
	{"Start", testStart},
	{"Stop", testStop},
	{"Close", testClose},
	{"ResumeOrphanedJobs", testResumeOrphanedJobs},
	// write.go
	{"Write", testWrite},
	{"OnCommit", testOnCommit},
	{"LockCluster", testLockCluster},
	// queue.go
	{"EnqueueRun", testEnqueueRun},
	{"CountJobs", testCountJobs},
	{"CountJobsByState", testCountJobsByState},
	{"RunJob.Kind", testJobKinds},
	{"RunBatchJob.Kind", testJobKinds},
	{"RunJob.InsertOpts", testJobInsertOpts},
	{"RunBatchJob.InsertOpts", testJobInsertOpts},
	// orgs.go
	{"CreateOrganisation", testCreateOrganisation},
	{"Organisations", testOrganisations},
	{"CountOrganisations", testCountOrganisations},
	{"CreateAPIKey", testCreateAPIKey},
	{"APIKeyByHash", testAPIKeyByHash},
	{"APIKey", testAPIKey},
	{"APIKeys", testAPIKeys},
	{"RevokeAPIKey", testRevokeAPIKey},
	{"TouchAPIKey", testTouchAPIKey},
	// users.go
	{"CreateUser", testCreateUser},
	{"UserByEmail", testUserByEmail},
	{"User", testUser},
	{"CountUsers", testCountUsers},
	{"CreateSession", testCreateSession},
	{"SessionByHash", testSessionByHash},
	{"DeleteSession", testDeleteSession},
	{"DeleteExpiredSessions", testDeleteExpiredSessions},
	// users.go, invitations.go, audit.go (teams.go)
	{"Users", testUsers},
	{"CountOwners", testCountOwners},
	{"SetUserRole", testSetUserRole},
	{"SetUserPassword", testSetUserPassword},
	{"DeleteUser", testDeleteUser},
	{"DeleteUserSessions", testDeleteUserSessions},
	{"CreateInvitation", testCreateInvitation},
	{"InvitationByHash", testInvitationByHash},
	{"UseInvitation", testUseInvitation},
	{"InsertAudit", testInsertAudit},
	{"Audit", testAudit},
	{"PruneAudit", testPruneAudit},
	// records.go
	{"CreateCollection", testCreateCollection},
	{"UpdateCollection", testUpdateCollection},
	{"DeleteCollection", testDeleteCollection},
	{"Collection", testCollection},
	{"Collections", testCollections},
	{"InsertRecord", testInsertRecord},
	{"UpdateRecord", testUpdateRecord},
	{"UpdateRecordAt", testUpdateRecordAt},
	{"NewRecordID", testNewRecordID},
	{"LockRecord", testLockRecord},
	{"DeleteRecord", testDeleteRecord},
	{"Record", testRecord},
	{"RecordForUpdate", testRecordForUpdate},
	{"RecordByID", testRecordByID},
	{"Records", testRecords},
	// automations.go
	{"SaveAutomation", testSaveAutomation},
	{"DeleteAutomation", testDeleteAutomation},
	{"Automation", testAutomation},
	{"AutomationAt", testAutomationAt},
	{"Automations", testAutomations},
	{"EnabledAutomations", testEnabledAutomations},
	// alerts.go
	{"CreateAlertChannel", testCreateAlertChannel},
	{"AlertChannel", testAlertChannel},
	{"AlertChannels", testAlertChannels},
	{"DeleteAlertChannel", testDeleteAlertChannel},
	{"RaiseAlert", testRaiseAlert},
	{"Alert", testAlert},
	{"Alerts", testAlerts},
	{"MarkAlert", testMarkAlert},
	{"PruneAlerts", testPruneAlerts},
	{"AlertJob.Kind", testAlertJob},
	{"AlertJob.InsertOpts", testAlertJob},
	// pause.go
	{"CountRunOutcome", testCountRunOutcome},
	{"ResumeAutomation", testResumeAutomation},
	{"AutomationPaused", testAutomationPaused},
	{"RunCounts", testRunCounts},
	{"CountPausedAutomations", testCountPausedAutomations},
	// versions.go
	{"SaveAutomationBy", testSaveAutomationBy},
	{"AutomationVersions", testAutomationVersions},
	// runs.go
	{"InsertRun", testInsertRun},
	{"UpdateRun", testUpdateRun},
	{"MarkRunRunning", testMarkRunRunning},
	{"InsertAttempt", testInsertAttempt},
	{"KeepAttempt", testKeepAttempt},
	{"HandBackRun", testHandBackRun},
	{"Run", testRun},
	{"RunWithAttempts", testRunWithAttempts},
	{"Runs", testRuns},
	{"CountRuns", testCountRuns},
	{"PruneRuns", testPruneRuns},
	// secrets.go
	{"PutSecret", testPutSecret},
	{"DeleteSecret", testDeleteSecret},
	{"Secrets", testSecrets},
	{"SealedSecrets", testSealedSecrets},
	{"CollectionAndEnabledAutomations", testCollectionAndEnabledAutomations},
	{"RunAndSealedSecrets", testRunAndSealedSecrets},
	// gen.go
	{"CatalogGen", testCatalogGen},
	{"CheckCatalogGen", testCheckCatalogGen},
	{"OnCatalogChange", testOnCatalogChange},
	// due.go
	{"PutDue", testPutDue},
	{"DueValue", testDueValue},
	{"DeleteDue", testDeleteDue},
	{"DeleteDueOf", testDeleteDueOf},
	{"IdempotencyKey", testIdempotencyKey},
	{"PutIdempotencyKey", testPutIdempotencyKey},
	{"PruneIdempotencyKeys", testPruneIdempotencyKeys},
	{"DueReady", testDueReady},
	{"ClaimDueRow", testClaimDueRow},
	{"StaleDueAutomations", testStaleDueAutomations},
	{"MarkDueBuilt", testMarkDueBuilt},
	// rates.go
	{"ReserveRate", testReserveRate},
	// copy.go
	{"Copy", testCopy},
	// keys.go
	{"Meta", testMeta},
	{"SetMeta", testSetMeta},
	{"InsertMeta", testInsertMeta},
	{"MetaForShare", testMetaForShare},
	{"SealedValues", testSealedValues},
	{"LastSealedValue", testLastSealedValue},
	{"SealedValue.After", testSealedValueAfter},
	{"Reseal", testReseal},
	// faults.go
	{"Ready", testReady},
	{"FailRun", testFailRun},
	{"Backup", testBackup},
	{"ResumeLostJobs", testResumeLostJobs},
}

// crossCutting are subtests about every method at once rather than one.
var crossCutting = []struct {
	name string
	test func(t *testing.T, s *suite)
}{
	{"NULAndInvalidUTF8", testNULAndInvalidUTF8},
	{"CatalogWriters", testCatalogWriters},
}

// Exercise runs the whole suite against b, each subtest in parallel.
func Exercise(t *testing.T, b Backend) {
	t.Helper()
	s := &suite{b: b}
	s.shared = s.open(t, store.Config{})
	for _, st := range append(subtests[:len(subtests):len(subtests)], crossCutting...) {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.test(t, s)
		})
	}
}

// suite is what the subtests share: the backend and one store for tests
// that need no database of their own. Those create their own organisations
// and keep to them (which the store's tenancy makes enough); a test that
// counts, lists or claims across organisations, or needs a node of its own,
// opens a new database with fresh.
type suite struct {
	b      Backend
	shared *store.Store
}

// open opens a store on a new database, closed when t ends. cfg.URL is set.
func (s *suite) open(t *testing.T, cfg store.Config) *store.Store {
	t.Helper()
	cfg.URL = s.b.NewURL(t)
	return s.openURL(t, cfg)
}

// fresh is a store of its own for t, on a new database.
func (s *suite) fresh(t *testing.T) *store.Store {
	t.Helper()
	return s.open(t, store.Config{})
}

// openURL opens a store on cfg.URL (another node on a database), closed
// when t ends.
func (s *suite) openURL(t *testing.T, cfg store.Config) *store.Store {
	t.Helper()
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 4 // tests open many stores; PostgreSQL has 100 connections
	}
	st, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open %s: %v", s.b.Name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := st.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return st
}

// wait is how long a test waits for something that should happen at once
// (a worker picking a job up, a write going through): generous, for a busy
// machine, and only ever spent when the test fails.
const wait = 30 * time.Second
