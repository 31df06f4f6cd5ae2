package secret

import (
	"encoding/base64"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestOpenSecrets: the secrets that open come back by name; a secret sealed
// with another key, for another organisation or name, or damaged, is named
// among the broken ones, in order.
func TestOpenSecrets(t *testing.T) {
	t.Parallel()
	box, other := newBox(t, newKey(t)), newBox(t, newKey(t))
	seal := func(b *Box, org, name, plain string) string {
		return base64.StdEncoding.EncodeToString(b.Seal([]byte(plain), SecretAAD(org, name)))
	}
	tests := []struct {
		name       string
		sealed     map[string]string
		wantOpened map[string]string
		wantBroken []string
	}{
		{"none", nil, map[string]string{}, nil},
		{"all open", map[string]string{
			"API_TOKEN": seal(box, "org_1", "API_TOKEN", "tok-123"),
			"EMPTY":     seal(box, "org_1", "EMPTY", ""),
		}, map[string]string{"API_TOKEN": "tok-123", "EMPTY": ""}, nil},
		{"broken ones named and sorted", map[string]string{
			"OK":          seal(box, "org_1", "OK", "fine"),
			"Z_OTHER_KEY": seal(other, "org_1", "Z_OTHER_KEY", "x"),
			"M_OTHER_ORG": seal(box, "org_2", "M_OTHER_ORG", "x"),
			"B_RENAMED":   seal(box, "org_1", "A_NAME", "x"),
			"A_NOT_B64":   "%%%",
			"C_EMPTY":     "",
		}, map[string]string{"OK": "fine"}, []string{"A_NOT_B64", "B_RENAMED", "C_EMPTY", "M_OTHER_ORG", "Z_OTHER_KEY"}},
	}
	for _, tc := range tests {
		opened, broken := box.OpenSecrets("org_1", tc.sealed)
		if diff := cmp.Diff(tc.wantOpened, opened); diff != "" {
			t.Errorf("%s: opened (-want +got):\n%s", tc.name, diff)
		}
		if diff := cmp.Diff(tc.wantBroken, broken); diff != "" {
			t.Errorf("%s: broken (-want +got):\n%s", tc.name, diff)
		}
	}
}
