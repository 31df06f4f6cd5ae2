package service

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/render"
)

func TestMissingSecrets(t *testing.T) {
	t.Parallel()
	doc := json.RawMessage(`{"condition":"secrets.GATE != ''","steps":[{"url":"https://x/{secrets.IN_URL}","headers":[{"name":"A","value":"{secrets.HAVE} {secrets.LACK}"}]}],"name":"secrets.NOT_A_TEMPLATE"}`)
	got := missingSecrets(doc, map[string]bool{"HAVE": true}, render.Options{})
	var paths []string
	for _, p := range got {
		paths = append(paths, p.Path+" "+strings.Fields(p.Message)[1])
	}
	want := []string{"condition GATE", "steps[0].headers[0].value LACK", "steps[0].url IN_URL"}
	if d := cmp.Diff(want, paths); d != "" {
		t.Errorf("missing secrets (-want +got):\n%s", d)
	}
}
