package webui

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSideBySide(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, a, b string
		want       []diffRow
	}{
		{"same", "a\nb", "a\nb", []diffRow{
			{"same", 1, 1, "a", "a"}, {"same", 2, 2, "b", "b"}}},
		{"one line changed", "{\n  \"url\": \"/one\"\n}", "{\n  \"url\": \"/two\"\n}", []diffRow{
			{"same", 1, 1, "{", "{"}, {"changed", 2, 2, `  "url": "/one"`, `  "url": "/two"`}, {"same", 3, 3, "}", "}"}}},
		{"a line added", "a\nc", "a\nb\nc", []diffRow{
			{"same", 1, 1, "a", "a"}, {"added", 0, 2, "", "b"}, {"same", 2, 3, "c", "c"}}},
		{"lines removed", "a\nb\nc\nd", "a\nd", []diffRow{
			{"same", 1, 1, "a", "a"}, {"removed", 2, 0, "b", ""}, {"removed", 3, 0, "c", ""}, {"same", 4, 2, "d", "d"}}},
		{"two changed against one", "a\nx\ny\nz", "a\nw\nz", []diffRow{
			{"same", 1, 1, "a", "a"}, {"changed", 2, 2, "x", "w"}, {"removed", 3, 0, "y", ""}, {"same", 4, 3, "z", "z"}}},
		{"everything", "a", "b", []diffRow{{"changed", 1, 1, "a", "b"}}},
	} {
		if d := cmp.Diff(c.want, sideBySide(c.a, c.b), cmp.AllowUnexported(diffRow{})); d != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, d)
		}
	}
}
