package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/catalog"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/store"
	"github.com/autohook/autohook/internal/trigger"
)

// CreateCollection adds a collection.
func (s *Service) CreateCollection(ctx context.Context, orgID string, c *record.Collection) error {
	if err := normaliseCollection(c); err != nil {
		return err
	}
	return s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.CreateCollection(ctx, orgID, c); err != nil {
			return err
		}
		return s.audit(ctx, tx, orgID, autohook.AuditCollectionCreated, target("collection", c.Key, c.Name), details{"fields": len(c.Fields), "stages": len(c.Stages)})
	})
}

func normaliseCollection(c *record.Collection) error {
	if c.Fields == nil {
		c.Fields = []record.Field{}
	}
	if c.Stages == nil {
		c.Stages = []string{}
	}
	c.Name = strings.TrimSpace(c.Name)
	return c.Check()
}

// UpdateCollection replaces a collection's name, fields and stages; its key
// stays. Records keep their values; a removed field's values stay stored but
// are no longer accepted in writes.
func (s *Service) UpdateCollection(ctx context.Context, orgID string, c *record.Collection) error {
	if err := normaliseCollection(c); err != nil {
		return err
	}
	return s.st.Write(ctx, func(tx *store.Tx) error {
		old, err := tx.Collection(ctx, orgID, c.Key)
		if err != nil {
			return err
		}
		c.ID, c.CreatedAt = old.ID, old.CreatedAt
		if err := tx.UpdateCollection(ctx, orgID, c); err != nil {
			return err
		}
		return s.audit(ctx, tx, orgID, autohook.AuditCollectionUpdated, target("collection", c.Key, c.Name), details{"fields": len(c.Fields), "stages": len(c.Stages)})
	})
}

// DeleteCollection deletes a collection and its records; a collection that
// automations use cannot be deleted (ErrConflict).
func (s *Service) DeleteCollection(ctx context.Context, orgID, key string) error {
	return s.st.Write(ctx, func(tx *store.Tx) error {
		used, _, err := tx.Automations(ctx, orgID, autohook.AutomationFilter{Collection: key}, autohook.Page{Limit: 1})
		if err != nil {
			return err
		}
		if len(used) > 0 {
			return fmt.Errorf("%w: automation %q uses collection %q; delete it or point it at another collection first", autohook.ErrConflict, used[0].Doc.Name, key)
		}
		old, err := tx.Collection(ctx, orgID, key)
		if err != nil {
			return err
		}
		if err := tx.DeleteCollection(ctx, orgID, key); err != nil {
			return err
		}
		return s.audit(ctx, tx, orgID, autohook.AuditCollectionDeleted, target("collection", key, old.Name), nil)
	})
}

// Collection returns one collection.
func (s *Service) Collection(ctx context.Context, orgID, key string) (*record.Collection, error) {
	return s.st.Collection(ctx, orgID, key)
}

// Collections lists collections.
func (s *Service) Collections(ctx context.Context, orgID string, page autohook.Page) ([]*record.Collection, string, error) {
	return s.st.Collections(ctx, orgID, page)
}

// CreateRecord adds a record and, in the same transaction, the runs it
// triggers. The automations' conditions are evaluated before the
// transaction, against the record as it will be stored (its id and
// creation time chosen beforehand): the transaction only writes. When the
// collection or its automations changed on another node between the plan
// and the transaction (catalog.Stamp), it starts again from the new ones.
func (s *Service) CreateRecord(ctx context.Context, orgID, collection string, in autohook.RecordInput) (*record.Record, error) {
	return untilCurrent(s, orgID, func() (*record.Record, error) { return s.createRecord(ctx, orgID, collection, in) })
}

// untilCurrent calls try again, up to catalog.MaxStaleTries times, while it
// fails because the definitions it was planned with changed meanwhile;
// then it fails with ErrConflict (the definitions kept changing).
func untilCurrent[T any](s *Service, orgID string, try func() (T, error)) (T, error) {
	for n := 1; ; n++ {
		v, err := try()
		if !s.cat.Stale(orgID, err) {
			return v, err
		}
		if n == catalog.MaxStaleTries {
			return v, fmt.Errorf("%w: %w", autohook.ErrConflict, err)
		}
	}
}

// createRecord is one try of CreateRecord.
func (s *Service) createRecord(ctx context.Context, orgID, collection string, in autohook.RecordInput) (*record.Record, error) {
	c, cands, err := s.fire.CollectionAndCandidates(ctx, orgID, collection)
	if err != nil {
		return nil, err
	}
	refused := cands.Stamp().Recheck // refused by cached definitions: read them again first
	if c == nil {
		return nil, refused(store.ErrNotFound)
	}
	var idem *store.IdempotencyKey
	if in.IdempotencyKey != "" {
		idem = &store.IdempotencyKey{OrgID: orgID, Key: in.IdempotencyKey, RequestHash: requestHash(c.Key, in)}
		if rec, err := s.replay(ctx, c.Key, idem); !errors.Is(err, autohook.ErrNotFound) {
			return rec, err
		}
	}
	fields, err := c.CheckFields(in.Fields)
	if err != nil {
		return nil, refused(err)
	}
	for k, v := range fields {
		if v == nil {
			delete(fields, k)
		}
	}
	now := s.st.Now()
	rec := &record.Record{ID: store.NewRecordID(), Collection: c.Key, Stage: c.DefaultStage(), Fields: fields, Version: 1, CreatedAt: now, UpdatedAt: now}
	if in.Stage != nil {
		if perr := c.CheckStage("stage", *in.Stage); perr != nil {
			return nil, refused(perr)
		}
		rec.Stage = *in.Stage
	}
	plan, err := s.fire.Plan(ctx, trigger.Change{OrgID: orgID, Record: rec, At: now, Candidates: cands})
	if err != nil {
		return nil, err
	}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if idem != nil {
			idem.RecordID = rec.ID
			if err := tx.PutIdempotencyKey(ctx, idem); err != nil {
				return err
			}
		}
		if err := tx.InsertRecord(ctx, orgID, rec); err != nil {
			return err
		}
		_, err := plan.Apply(ctx, tx)
		return err
	})
	if idem != nil && errors.Is(err, autohook.ErrConflict) {
		// A request with the same key committed meanwhile (sent twice at
		// once, or retried while the first was still being written).
		return s.replay(ctx, c.Key, idem)
	}
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// replay answers a creation whose idempotency key was used before: the
// record that request created, if this request is the same one;
// ErrNotFound when the key was not used.
func (s *Service) replay(ctx context.Context, collection string, k *store.IdempotencyKey) (*record.Record, error) {
	used, err := s.st.IdempotencyKey(ctx, k.OrgID, k.Key)
	if err != nil {
		return nil, err
	}
	if used.RequestHash != k.RequestHash {
		return nil, fmt.Errorf("%w: the Idempotency-Key %q was used for another request (another collection, fields or stage); use a new key for a new record", autohook.ErrConflict, k.Key)
	}
	rec, err := s.st.Record(ctx, k.OrgID, collection, used.RecordID)
	if errors.Is(err, autohook.ErrNotFound) {
		return nil, fmt.Errorf("%w: the record %s created with the Idempotency-Key %q was deleted since", autohook.ErrConflict, used.RecordID, k.Key)
	}
	return rec, err
}

// requestHash identifies a creation request for its idempotency key: the
// collection and the input as given (maps encode with sorted keys).
func requestHash(collection string, in autohook.RecordInput) string {
	b, err := json.Marshal(struct {
		Collection string         `json:"c"`
		Fields     map[string]any `json:"f"`
		Stage      *string        `json:"s"`
	}{collection, in.Fields, in.Stage})
	if err != nil {
		// Input decoded from JSON always encodes; a value that does not
		// gets a hash no repetition can match.
		b = []byte(err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// UpdateRecord changes some of a record's fields and/or its stage and, in
// the same transaction, creates the runs the change triggers.
//
// The automations' conditions are evaluated before the transaction,
// against the record as it will be stored; the transaction writes it only
// if the record is still at the version that was read. The writers of one
// record on this node take turns (store.LockRecord); a write from another
// node in between (PostgreSQL) makes the update start again, read, merged
// and evaluated anew, up to maxUpdateTries times without in.Version, and
// fail with ErrConflict with it. A change of the collection or its
// automations on another node in between (catalog.Stamp) makes it start
// again too, from the new definitions, whatever in.Version says.
func (s *Service) UpdateRecord(ctx context.Context, orgID, collection, id string, in autohook.RecordInput) (*record.Record, error) {
	return untilCurrent(s, orgID, func() (*record.Record, error) { return s.updateRecordAgain(ctx, orgID, collection, id, in) })
}

// updateRecordAgain is UpdateRecord with the definitions read once.
func (s *Service) updateRecordAgain(ctx context.Context, orgID, collection, id string, in autohook.RecordInput) (*record.Record, error) {
	c, cands, err := s.fire.CollectionAndCandidates(ctx, orgID, collection)
	if err != nil {
		return nil, err
	}
	refused := cands.Stamp().Recheck // refused by cached definitions: read them again first
	if c == nil {
		return nil, refused(store.ErrNotFound)
	}
	changes, err := c.CheckFields(in.Fields)
	if err != nil {
		return nil, refused(err)
	}
	if in.Stage != nil {
		if perr := c.CheckStage("stage", *in.Stage); perr != nil {
			return nil, refused(perr)
		}
	}
	unlock, err := s.st.LockRecord(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	for try := 1; ; try++ {
		out, err := s.updateRecord(ctx, orgID, c.Key, id, in, changes, cands)
		if errors.Is(err, autohook.ErrConflict) && in.Version == nil && try < maxUpdateTries {
			continue
		}
		return out, err
	}
}

// maxUpdateTries bounds how many times UpdateRecord starts again when
// another node changes the record between its read and its write.
const maxUpdateTries = 5

// updateRecord is one try of UpdateRecord.
func (s *Service) updateRecord(ctx context.Context, orgID, collection, id string, in autohook.RecordInput, changes map[string]any, cands *trigger.Candidates) (*record.Record, error) {
	prev, err := s.st.Record(ctx, orgID, collection, id)
	if err != nil {
		return nil, err
	}
	if in.Version != nil && *in.Version != prev.Version {
		return nil, fmt.Errorf("%w: record %s is at version %d, not %d", autohook.ErrConflict, id, prev.Version, *in.Version)
	}
	next := *prev
	next.Fields = record.Merge(prev.Fields, changes)
	if in.Stage != nil {
		next.Stage = *in.Stage
	}
	if next.Stage == prev.Stage && len(record.Diff(prev.Fields, next.Fields)) == 0 {
		return &next, nil // no change: no write, no trigger
	}
	now := s.st.Now()
	after := next // as it will be stored
	after.Version, after.UpdatedAt = prev.Version+1, now
	plan, err := s.fire.Plan(ctx, trigger.Change{OrgID: orgID, Record: &after, Previous: prev, At: now, Candidates: cands})
	if err != nil {
		return nil, err
	}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.UpdateRecordAt(ctx, orgID, &next, now); err != nil {
			return err
		}
		_, err := plan.Apply(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &next, nil
}

// DeleteRecord deletes a record. Its runs stay in history.
func (s *Service) DeleteRecord(ctx context.Context, orgID, collection, id string) error {
	return s.st.Write(ctx, func(tx *store.Tx) error { return tx.DeleteRecord(ctx, orgID, collection, id) })
}

// Record returns one record.
func (s *Service) Record(ctx context.Context, orgID, collection, id string) (*record.Record, error) {
	return s.st.Record(ctx, orgID, collection, id)
}

// Records lists a collection's records.
func (s *Service) Records(ctx context.Context, orgID, collection string, f autohook.RecordFilter, page autohook.Page) ([]*record.Record, string, error) {
	if _, err := s.st.Collection(ctx, orgID, collection); err != nil {
		return nil, "", err
	}
	return s.st.Records(ctx, orgID, collection, f, page)
}

// RecordActions lists the enabled manual automations of a record's
// collection: the record's right-click menu.
func (s *Service) RecordActions(ctx context.Context, orgID, collection, id string) ([]autohook.Action, error) {
	if _, err := s.st.Record(ctx, orgID, collection, id); err != nil {
		return nil, err
	}
	refs, err := s.st.EnabledAutomations(ctx, orgID, collection, automation.Manual)
	if err != nil {
		return nil, err
	}
	out := []autohook.Action{}
	for _, ref := range refs {
		comp, err := s.cat.Get(ctx, orgID, ref.ID, ref.Version)
		if err != nil {
			return nil, err
		}
		out = append(out, autohook.Action{AutomationID: comp.ID, Name: comp.Name})
	}
	return out, nil
}
