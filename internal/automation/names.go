package automation

import (
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/render"
)

// recordKeys are the members every record has besides its fields (see
// record.Record.Env).
var recordKeys = []string{"id", "stage", "collection", "createdAt", "updatedAt"}

// ShapeOf is what expressions can know of a collection's records when an
// automation is saved: each field by its type, and the record's own keys.
// Compile checks every expression and template against it, so that
// record.nmae is refused at save with the nearest name.
func ShapeOf(coll *record.Collection) *render.Shape {
	s := &render.Shape{Record: make(map[string]render.Kind, len(coll.Fields)+len(recordKeys))}
	for _, k := range recordKeys {
		s.Record[k] = render.KindText
	}
	for _, f := range coll.Fields {
		switch f.Type {
		case record.Text, record.Date, record.DateTime:
			s.Record[f.Key] = render.KindText
		case record.Number:
			s.Record[f.Key] = render.KindNumber
		case record.Boolean:
			s.Record[f.Key] = render.KindBool
		default:
			s.Record[f.Key] = render.KindAny
		}
	}
	return s
}
