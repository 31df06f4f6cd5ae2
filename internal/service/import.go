package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/jsonnum"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/render"
	"github.com/autohook/autohook/internal/store"
)

// Import plans a file against the organisation and, unless opts.DryRun,
// applies the plan in one transaction: everything or, on any problem,
// nothing. Problems are a *problem.Error with paths into the file
// (automations[2].steps[0].url); the plan is the same whether dry or not.
//
// Collections match by key, automations by name. Two objects of the file
// with the same key or name are refused; so is an automation name that
// two of the organisation's automations share (which one is meant?). A
// collection update follows UpdateCollection (records keep their values),
// except that a field's type may change only when every stored value fits
// the new type. Objects the file does not hold are kept, or deleted with
// opts.Prune (a collection that still holds records is not deleted: that
// is a problem). A secret a template names that the organisation lacks is
// a warning. Signing secrets: see importSigning.
func (s *Service) Import(ctx context.Context, orgID string, f *autohook.ImportFile, opts autohook.ImportOptions) (*autohook.ImportResult, error) {
	if opts.DryRun {
		p, err := s.planImport(ctx, s.st, orgID, f, opts)
		if err != nil {
			return nil, err
		}
		return p.result, nil
	}
	by := autohook.ActorFrom(ctx)
	var res *autohook.ImportResult
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		// Planned in the transaction, so that what is applied is what was
		// planned: nothing can change in between.
		p, err := s.planImport(ctx, tx, orgID, f, opts)
		if err != nil {
			return err
		}
		if err := s.applyImport(ctx, tx, orgID, p, by); err != nil {
			return err
		}
		res = p.result
		return s.audit(ctx, tx, orgID, autohook.AuditConfigImported, target("configuration", "", "import"), importDetails(p.result))
	})
	if err != nil {
		return nil, err
	}
	res.Applied = true
	return res, nil
}

// importReader is what planning reads: the store's read pool for a dry
// run, the transaction that applies it otherwise.
type importReader interface {
	Collections(ctx context.Context, orgID string, page autohook.Page) ([]*record.Collection, string, error)
	Automations(ctx context.Context, orgID string, f autohook.AutomationFilter, page autohook.Page) ([]*store.AutomationVersion, string, error)
	Records(ctx context.Context, orgID, collection string, f autohook.RecordFilter, page autohook.Page) ([]*record.Record, string, error)
	Secrets(ctx context.Context, orgID string) ([]autohook.Secret, error)
}

// importPlan is a plan with what applying it needs.
type importPlan struct {
	result      *autohook.ImportResult
	createColls []*record.Collection
	updateColls []*record.Collection
	deleteColls []string
	saveAutos   []plannedAutomation
	deleteAutos []*automation.Automation
}

// plannedAutomation is an automation to save: its document and its
// signing secret, either kept sealed as stored or, given in the file,
// plain, to be sealed when the plan is applied (as SaveAutomation seals).
type plannedAutomation struct {
	doc         *automation.Automation
	sealed      string
	plainSecret string
}

func (s *Service) planImport(ctx context.Context, r importReader, orgID string, f *autohook.ImportFile, opts autohook.ImportOptions) (*importPlan, error) {
	p := &importPlan{result: &autohook.ImportResult{Plan: []autohook.PlanItem{}, Warnings: []problem.Problem{}}}
	var problems problem.List

	current, err := allPages(func(pg autohook.Page) ([]*record.Collection, string, error) { return r.Collections(ctx, orgID, pg) })
	if err != nil {
		return nil, err
	}
	currentColl := map[string]*record.Collection{}
	for _, c := range current {
		currentColl[c.Key] = c
	}
	// after is every collection once the import is applied (pruned ones
	// aside): what the automations are checked against.
	after := map[string]*record.Collection{}
	for k, c := range currentColl {
		after[k] = c
	}
	inFile := map[string]int{}
	for i, c := range f.Collections {
		path := problem.Join("collections", i)
		if j, dup := inFile[c.Key]; dup && c.Key != "" {
			problems.Add(path+".key", "duplicate collection %q: collections[%d] has the same key (a file holds each collection once)", c.Key, j)
			continue
		}
		inFile[c.Key] = i
		if err := normaliseCollection(c); err != nil {
			problems = append(problems, prefixed(path, err)...)
			continue
		}
		after[c.Key] = c
		old, ok := currentColl[c.Key]
		if !ok {
			p.createColls = append(p.createColls, c)
			p.add(autohook.KindCollection, c.Key, autohook.ActionCreate, nil)
			continue
		}
		changes, err := documentChanges(old, c, autohook.CollectionDocument)
		if err != nil {
			return nil, err
		}
		if len(changes) == 0 {
			p.add(autohook.KindCollection, c.Key, autohook.ActionUnchanged, nil)
			continue
		}
		if err := checkTypeChanges(ctx, r, orgID, path, old, c); err != nil {
			var perr *problem.Error
			if !errors.As(err, &perr) {
				return nil, err
			}
			problems = append(problems, perr.Problems...)
			continue
		}
		c.ID, c.CreatedAt = old.ID, old.CreatedAt
		p.updateColls = append(p.updateColls, c)
		p.add(autohook.KindCollection, c.Key, autohook.ActionUpdate, changes)
	}

	autos, err := allPages(func(pg autohook.Page) ([]*store.AutomationVersion, string, error) {
		return r.Automations(ctx, orgID, autohook.AutomationFilter{}, pg)
	})
	if err != nil {
		return nil, err
	}
	byName := map[string][]*store.AutomationVersion{}
	for _, v := range autos {
		byName[v.Doc.Name] = append(byName[v.Doc.Name], v)
	}
	secrets, err := r.Secrets(ctx, orgID)
	if err != nil {
		return nil, err
	}
	haveSecret := map[string]bool{}
	for _, sec := range secrets {
		haveSecret[sec.Name] = true
	}
	// Pruned collections go before the automations are checked, so that an
	// automation left pointing at one is a problem.
	if opts.Prune {
		for _, c := range current {
			if _, ok := inFile[c.Key]; ok {
				continue
			}
			recs, _, err := r.Records(ctx, orgID, c.Key, autohook.RecordFilter{}, autohook.Page{Limit: 1})
			if err != nil {
				return nil, err
			}
			if len(recs) > 0 {
				problems.Add("collections", "collection %q is not in the file, and prune would delete it with its records: add it to the file, or delete it yourself first", c.Key)
				continue
			}
			delete(after, c.Key)
			p.deleteColls = append(p.deleteColls, c.Key)
		}
	}
	names := map[string]int{}
	for i, a := range f.Automations {
		path := problem.Join("automations", i)
		if j, dup := names[a.Name]; dup {
			problems.Add(path+".name", "duplicate automation %q: automations[%d] has the same name (automations match by name, so each name is in a file once)", a.Name, j)
			continue
		}
		names[a.Name] = i
		var old *store.AutomationVersion
		switch matches := byName[a.Name]; len(matches) {
		case 0:
		case 1:
			old = matches[0]
		default:
			problems.Add(path+".name", "the organisation has %d automations named %q: an import matches automations by name, so rename or delete all but one first", len(matches), a.Name)
			continue
		}
		planned, changes, warnings, err := s.planAutomation(orgID, a, old, after[a.Collection], haveSecret)
		p.result.Warnings = append(p.result.Warnings, prefixed(path, problem.List(warnings).Err())...)
		if err != nil {
			var perr *problem.Error
			if !errors.As(err, &perr) {
				return nil, err
			}
			if _, wasHere := currentColl[a.Collection]; wasHere && after[a.Collection] == nil {
				problems.Add(path+".collection", "collection %q is not in the file, so prune would delete it", a.Collection)
				continue
			}
			problems = append(problems, prefixed(path, err)...)
			continue
		}
		switch {
		case old == nil:
			p.saveAutos = append(p.saveAutos, planned)
			p.add(autohook.KindAutomation, a.Name, autohook.ActionCreate, nil)
		case len(changes) > 0:
			p.saveAutos = append(p.saveAutos, planned)
			p.add(autohook.KindAutomation, a.Name, autohook.ActionUpdate, changes)
		default:
			p.add(autohook.KindAutomation, a.Name, autohook.ActionUnchanged, nil)
		}
	}
	if opts.Prune {
		for _, v := range autos {
			if _, ok := names[v.Doc.Name]; !ok {
				p.deleteAutos = append(p.deleteAutos, v.Doc)
				p.add(autohook.KindAutomation, v.Doc.Name, autohook.ActionDelete, nil)
			}
		}
		for _, key := range p.deleteColls {
			p.add(autohook.KindCollection, key, autohook.ActionDelete, nil)
		}
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *importPlan) add(kind, name, action string, changes []string) {
	if changes == nil {
		changes = []string{}
	}
	p.result.Plan = append(p.result.Plan, autohook.PlanItem{Kind: kind, Name: name, Action: action, Changes: changes})
}

// planAutomation checks one automation of the file against its collection
// (nil: none) and the automation of the same name (nil: none), and returns
// the document to save with its sealed signing secret, and what changes.
func (s *Service) planAutomation(orgID string, a *automation.Automation, old *store.AutomationVersion, coll *record.Collection, haveSecret map[string]bool) (plannedAutomation, []string, []problem.Problem, error) {
	doc := *a
	doc.Steps = slices.Clone(a.Steps)
	if old != nil {
		doc.ID = old.Doc.ID
	}
	plain, sealed, secretChanged, warnings, err := s.importSigning(orgID, &doc, old)
	if err != nil {
		return plannedAutomation{}, nil, warnings, err
	}
	compileWarnings, err := s.compile(&doc, coll, plain)
	warnings = append(warnings, compileWarnings...)
	if err != nil {
		return plannedAutomation{}, nil, warnings, err
	}
	planned := plannedAutomation{doc: &doc, sealed: sealed}
	if plain != "" {
		doc.Signing = &automation.Signing{Secret: automation.SecretRedacted}
		if sealed == "" {
			planned.plainSecret = plain
		}
	}
	mine, err := autohook.AutomationDocument(&doc)
	if err != nil {
		return planned, nil, warnings, err
	}
	warnings = append(warnings, missingSecrets(mine, haveSecret, s.cat.Options().Render)...)
	if old == nil {
		return planned, nil, warnings, nil
	}
	changes, err := documentChanges(old.Doc, &doc, autohook.AutomationDocument)
	if err != nil {
		return planned, nil, warnings, err
	}
	if secretChanged && !slices.Contains(changes, "signing") {
		changes = append(changes, "signing.secret")
	}
	return planned, changes, warnings, nil
}

// importSigning decides an imported automation's signing secret: the
// plain secret to compile with, and the sealed one to keep ("" when a
// secret given in the file is to be sealed).
//
// An export leaves secrets out: its signed automations say
// "signing": {"secret": "[redacted]"}. Importing that onto an automation
// of the same name that has a stored secret keeps the secret. Where there
// is none to keep (a new automation, or one that was not signed), the
// automation is saved disabled and unsigned, with a warning: it must not
// send unsigned requests to a receiver that checks signatures, and its
// secret is the organisation's to set (the form, or PUT with
// signing.secret). A file may also hold the secret itself (whsec_...):
// then it is used, and sealed like any saved secret.
func (s *Service) importSigning(orgID string, doc *automation.Automation, old *store.AutomationVersion) (plain, sealed string, changed bool, warnings []problem.Problem, err error) {
	var oldPlain string
	if old != nil {
		if oldPlain, err = s.cat.OpenSigningSecret(orgID, old); err != nil {
			return "", "", false, nil, err
		}
	}
	switch {
	case doc.Signing == nil:
		return "", "", false, nil, nil
	case doc.Signing.Secret == automation.SecretRedacted && oldPlain != "":
		return oldPlain, old.SealedSigningSecret, false, nil, nil
	case doc.Signing.Secret == automation.SecretRedacted:
		doc.Signing, doc.Enabled = nil, false
		return "", "", false, []problem.Problem{{Path: "signing.secret",
			Message: "an export leaves signing secrets out, and this organisation has none stored for this automation: it is saved disabled and unsigned; set its signing secret, then enable it"}}, nil
	case doc.Signing.Secret == oldPlain:
		return oldPlain, old.SealedSigningSecret, false, nil, nil
	}
	return doc.Signing.Secret, "", old != nil && oldPlain != "", nil, nil
}

// documentChanges compares two objects in their document form.
func documentChanges[T any](old, new T, document func(T) (json.RawMessage, error)) ([]string, error) {
	a, err := document(old)
	if err != nil {
		return nil, err
	}
	b, err := document(new)
	if err != nil {
		return nil, err
	}
	return autohook.ChangedPaths(a, b)
}

// checkTypeChanges refuses a collection update that changes a field's type
// while a stored value does not fit the new type: such a record could no
// longer be saved as it is, and expressions would see a value of the wrong
// kind. Values of removed fields stay stored, as UpdateCollection keeps
// them.
func checkTypeChanges(ctx context.Context, r importReader, orgID, path string, old, new *record.Collection) error {
	type change struct {
		index    int
		key      string
		from, to record.FieldType
	}
	var changes []change
	for i, f := range new.Fields {
		if prev, ok := old.Field(f.Key); ok && prev.Type != f.Type {
			changes = append(changes, change{i, f.Key, prev.Type, f.Type})
		}
	}
	if len(changes) == 0 {
		return nil
	}
	var problems problem.List
	bad := make([]int, len(changes))
	first := make([]string, len(changes))
	page := autohook.Page{Limit: 500}
	for {
		recs, next, err := r.Records(ctx, orgID, old.Key, autohook.RecordFilter{}, page)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			for i, c := range changes {
				v, ok := rec.Fields[c.key]
				if !ok || v == nil {
					continue
				}
				if _, err := record.Normalise(c.to, v); err != nil {
					if bad[i] == 0 {
						first[i] = fmt.Sprintf("record %s holds %s (%v)", rec.ID, compactValue(v), err)
					}
					bad[i]++
				}
			}
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	for i, c := range changes {
		if bad[i] > 0 {
			problems.Add(problem.Join(path, "fields", c.index, "type"), "field %q cannot change from %s to %s: %d record(s) hold values that are not %s; %s. Change or clear those values first",
				c.key, c.from, c.to, bad[i], c.to, first[i])
		}
	}
	return problems.Err()
}

func compactValue(v any) string {
	b, err := autohook.EncodeJSON(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return truncateText(string(b), 80)
}

func truncateText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// missingSecrets warns about the secrets a document's templates and
// expressions name that the organisation does not have: the automation
// imports, and its runs fail on them until they are set. Paths are into
// the document (steps[0].headers[0].value).
func missingSecrets(doc json.RawMessage, have map[string]bool, opts render.Options) []problem.Problem {
	v, err := jsonnum.Decode(doc)
	if err != nil {
		return nil
	}
	var out []problem.Problem
	var walk func(path, key string, v any)
	walk = func(path, key string, v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				walk(problem.Join(path, k), k, x[k])
			}
		case []any:
			for i, e := range x {
				walk(problem.Join(path, i), "", e)
			}
		case string:
			var names []string
			if t, err := render.CompileTemplate(x, opts); err == nil {
				names = t.Members(render.RootSecrets)
			}
			if key == "condition" || key == "if" { // bare expressions
				if e, err := render.CompileExpr(x, opts); err == nil {
					names = append(names, e.Members(render.RootSecrets)...)
				}
			}
			slices.Sort(names)
			for _, n := range slices.Compact(names) {
				if !have[n] {
					out = append(out, problem.Problem{Path: path, Message: fmt.Sprintf("secret %s does not exist in this organisation: runs fail until it is set (Settings → Secrets, or PUT /api/v1/secrets/%s)", n, n)})
				}
			}
		}
	}
	walk("", "", v)
	return out
}

// prefixed returns the problems of err (a *problem.Error; nil: none) with
// prefix before their paths.
func prefixed(prefix string, err error) []problem.Problem {
	var perr *problem.Error
	if !errors.As(err, &perr) {
		if err != nil {
			return []problem.Problem{{Path: prefix, Message: err.Error()}}
		}
		return nil
	}
	out := make([]problem.Problem, len(perr.Problems))
	for i, pr := range perr.Problems {
		out[i] = problem.Problem{Path: problem.Join(prefix, pr.Path), Message: pr.Message}
	}
	return out
}

// applyImport writes a plan in tx.
func (s *Service) applyImport(ctx context.Context, tx *store.Tx, orgID string, p *importPlan, by *autohook.Actor) error {
	for _, c := range p.createColls {
		if err := tx.CreateCollection(ctx, orgID, c); err != nil {
			return err
		}
	}
	for _, c := range p.updateColls {
		if err := tx.UpdateCollection(ctx, orgID, c); err != nil {
			return err
		}
	}
	for _, a := range p.saveAutos {
		if a.plainSecret != "" {
			sealed, err := s.sealSigningSecret(ctx, tx, orgID, a.plainSecret)
			if err != nil {
				return err
			}
			a.sealed = sealed
		}
		if err := s.writeAutomation(ctx, tx, orgID, a.doc, a.sealed, store.VersionMeta{SavedBy: by}); err != nil {
			return err
		}
	}
	for _, a := range p.deleteAutos {
		if err := tx.DeleteAutomation(ctx, orgID, a.ID); err != nil {
			return err
		}
		if err := s.cancelActive(ctx, tx, orgID, autohook.RunFilter{AutomationID: a.ID}); err != nil {
			return err
		}
	}
	for _, key := range p.deleteColls {
		if err := tx.DeleteCollection(ctx, orgID, key); err != nil {
			return err
		}
	}
	return nil
}

// importDetails are an applied import's audit details: how many objects of
// each kind each action touched, and their names.
func importDetails(r *autohook.ImportResult) details {
	counts := map[string]map[string]int{}
	var names []string
	for _, it := range r.Plan {
		if counts[it.Kind] == nil {
			counts[it.Kind] = map[string]int{}
		}
		counts[it.Kind][it.Action]++
		if it.Action != autohook.ActionUnchanged {
			names = append(names, it.Kind+" "+it.Name+": "+it.Action)
		}
	}
	return details{"counts": counts, "changed": names}
}
