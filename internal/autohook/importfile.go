package autohook

import (
	"encoding/json"
	"slices"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/strictjson"
)

// Plan actions. Stable strings: the CLI and scripts read them.
const (
	ActionCreate    = "create"
	ActionUpdate    = "update"
	ActionUnchanged = "unchanged"
	ActionDelete    = "delete"
)

// Plan item kinds.
const (
	KindCollection = "collection"
	KindAutomation = "automation"
)

// ImportFile is a decoded export: the configuration to apply.
type ImportFile struct {
	Collections []*record.Collection
	Automations []*automation.Automation
}

// ImportOptions say how Import treats a file.
type ImportOptions struct {
	// DryRun plans without changing anything.
	DryRun bool
	// Prune deletes the organisation's collections and automations that
	// the file does not hold; without it they are kept.
	Prune bool
}

// PlanItem is what an import does, or would do, to one object.
type PlanItem struct {
	Kind    string   `json:"kind"`    // KindCollection or KindAutomation
	Name    string   `json:"name"`    // a collection's key, an automation's name
	Action  string   `json:"action"`  // ActionCreate, ActionUpdate, ActionUnchanged or ActionDelete
	Changes []string `json:"changes"` // update: the paths that change
}

// ImportResult is an import's plan, its warnings (paths into the file),
// and whether it was applied.
type ImportResult struct {
	Plan     []PlanItem        `json:"plan"`
	Warnings []problem.Problem `json:"warnings"`
	Applied  bool              `json:"applied"`
}

// Changed reports whether the plan changes anything.
func (r *ImportResult) Changed() bool {
	return slices.ContainsFunc(r.Plan, func(p PlanItem) bool { return p.Action != ActionUnchanged })
}

// CollectionInput is a collection as a client sends it (the API's body)
// or a file holds it (an import); the read-only fields a collection read
// from the API also has are accepted and ignored, so what was read can be
// sent back unchanged.
type CollectionInput struct {
	Key       string         `json:"key"`
	Name      string         `json:"name"`
	Fields    []record.Field `json:"fields"`
	Stages    []string       `json:"stages"`
	ID        string         `json:"id"`
	CreatedAt string         `json:"createdAt"`
	UpdatedAt string         `json:"updatedAt"`
}

// Collection is the collection in; key replaces its key when not empty.
func (in *CollectionInput) Collection(key string) *record.Collection {
	if key == "" {
		key = in.Key
	}
	return &record.Collection{Key: key, Name: in.Name, Fields: in.Fields, Stages: in.Stages}
}

// DecodeImport parses an export strictly: malformed JSON is a
// *strictjson.SyntaxError; unknown fields, wrongly typed values and another
// format version are a *problem.Error naming each path
// (automations[2].steps[0].urll). An automation without "enabled" is
// enabled, as in the API; its id, version and times, if given, are
// ignored: objects match by collection key and automation name.
func DecodeImport(data []byte) (*ImportFile, error) {
	// First every path at once, the automations typed...
	var typed struct {
		FormatVersion *int                     `json:"formatVersion"`
		Collections   []CollectionInput        `json:"collections"`
		Automations   []*automation.Automation `json:"automations"`
	}
	if err := strictjson.Decode(data, &typed); err != nil {
		return nil, err
	}
	if typed.FormatVersion != nil && *typed.FormatVersion != ExportFormat {
		return nil, problem.New("formatVersion", "this server reads format %d, the file is format %d: export it again from a server of this version", ExportFormat, *typed.FormatVersion)
	}
	// ...then each automation as the API decodes one, for its defaults.
	var raw struct {
		Automations []json.RawMessage `json:"automations"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	f := &ImportFile{}
	for _, c := range typed.Collections {
		f.Collections = append(f.Collections, c.Collection(""))
	}
	for i, r := range raw.Automations {
		a, err := automation.Decode(r)
		if err != nil {
			return nil, problem.Prefix(problem.Join("automations", i), err)
		}
		a.ID, a.Version, a.CreatedAt, a.UpdatedAt = "", 0, nil, nil
		f.Automations = append(f.Automations, a)
	}
	return f, nil
}
