package autohook

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
)

// ExportFormat is the format version an export carries in "formatVersion";
// Import reads this version (and files without the field).
const ExportFormat = 1

// Export is an organisation's configuration as one document: its
// collections and automations, without ids, times or secret values.
type Export struct {
	FormatVersion int               `json:"formatVersion"`
	Collections   []json.RawMessage `json:"collections"`
	Automations   []json.RawMessage `json:"automations"`
}

// Fields that the server sets rather than the person writing the
// configuration: an export leaves them out, and a plan does not compare
// them. The automation's run-time state (paused or not, and since when) is
// of the same kind (API.md, "When things fail").
var (
	serverCollectionFields = []string{"id", "createdAt", "updatedAt"}
	serverAutomationFields = []string{"id", "version", "createdAt", "updatedAt", "state", "pausedAt", "pausedReason", "consecutiveFailures", "warnings"}
)

// ExportDocument returns an organisation's configuration as Export
// holds it: its collections (by key) and automations (by name, then by
// id for equal names) as pretty-printed JSON, so that two exports of the
// same configuration are byte for byte the same, and one field per line
// makes Git's diffs read well. Signing secrets are left out
// ("signing": {"secret": "[redacted]"} says an automation signs); secrets
// are referenced by name in templates, never by value.
func ExportDocument(colls []*record.Collection, autos []*automation.Automation) ([]byte, error) {
	colls, autos = slices.Clone(colls), slices.Clone(autos)
	slices.SortFunc(colls, func(a, b *record.Collection) int { return cmp.Compare(a.Key, b.Key) })
	slices.SortFunc(autos, func(a, b *automation.Automation) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	out := Export{FormatVersion: ExportFormat, Collections: []json.RawMessage{}, Automations: []json.RawMessage{}}
	for _, c := range colls {
		doc, err := CollectionDocument(c)
		if err != nil {
			return nil, err
		}
		out.Collections = append(out.Collections, doc)
	}
	for _, a := range autos {
		doc, err := AutomationDocument(a)
		if err != nil {
			return nil, err
		}
		out.Automations = append(out.Automations, doc)
	}
	return encodePretty(out)
}

// AutomationDocument returns an automation as configuration: its document
// (signing secret redacted) without the fields the server sets, in the
// document's own key order, compact. Exports hold this form, plans and
// the UI's version differences compare it.
func AutomationDocument(a *automation.Automation) (json.RawMessage, error) {
	return documentOf(a.Redacted(), serverAutomationFields)
}

// CollectionDocument returns a collection as configuration: without the
// fields the server sets, compact.
func CollectionDocument(c *record.Collection) (json.RawMessage, error) {
	return documentOf(c, serverCollectionFields)
}

// documentOf encodes v, a JSON object, without the keys in drop, keeping
// the order of the others.
func documentOf(v any, drop []string) (json.RawMessage, error) {
	data, err := EncodeJSON(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("document: not a JSON object: %s", data)
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		if slices.Contains(drop, key) {
			continue
		}
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		k, err := EncodeJSON(key)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(raw)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// EncodeJSON is json.Marshal without escaping <, > and & (templates hold
// them; \u003c would read badly in a file kept in Git).
func EncodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// encodePretty is EncodeJSON indented by two spaces, one field per line,
// ending in a newline.
func encodePretty(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// PrettyDocument indents a document (as AutomationDocument returns it) for
// reading and line differences.
func PrettyDocument(doc json.RawMessage) string {
	b, err := encodePretty(doc)
	if err != nil {
		return string(doc)
	}
	return string(bytes.TrimSuffix(b, []byte("\n")))
}
