package autohook_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/autohook/autohook/internal/autohook"
)

// TestMinRoleCoversService fails when an operation of Service has no entry
// in MinRole (who may call it has not been decided), or an entry names no
// operation.
func TestMinRoleCoversService(t *testing.T) {
	typ := reflect.TypeFor[autohook.Service]()
	ops := map[string]bool{}
	for i := range typ.NumMethod() {
		name := typ.Method(i).Name
		ops[name] = true
		if _, ok := autohook.MinRole[name]; !ok {
			t.Errorf("Service.%s has no entry in autohook.MinRole (internal/autohook/roles.go): add %q: RoleViewer, RoleEditor or RoleOwner", name, name)
		}
	}
	for name := range autohook.MinRole {
		if !ops[name] {
			t.Errorf("autohook.MinRole has %q, which is no operation of Service: renamed or removed?", name)
		}
	}
}

func TestAllowed(t *testing.T) {
	actor := func(r autohook.Role) context.Context {
		return autohook.WithActor(context.Background(), autohook.Actor{Type: autohook.ActorAPIKey, ID: "key_1", Name: "ci", Role: r})
	}
	for _, c := range []struct {
		name string
		ctx  context.Context
		op   string
		want error
	}{
		{"viewer reads", actor(autohook.RoleViewer), "Automations", nil},
		{"viewer writes", actor(autohook.RoleViewer), "SaveAutomation", autohook.ErrForbidden},
		{"viewer secrets' names", actor(autohook.RoleViewer), "Secrets", autohook.ErrForbidden},
		{"viewer audit", actor(autohook.RoleViewer), "Audit", autohook.ErrForbidden},
		{"editor writes", actor(autohook.RoleEditor), "SaveAutomation", nil},
		{"editor secrets' names", actor(autohook.RoleEditor), "Secrets", nil},
		{"editor puts a secret", actor(autohook.RoleEditor), "PutSecret", autohook.ErrForbidden},
		{"editor keys", actor(autohook.RoleEditor), "CreateAPIKey", autohook.ErrForbidden},
		{"owner keys", actor(autohook.RoleOwner), "CreateAPIKey", nil},
		{"owner audit", actor(autohook.RoleOwner), "Audit", nil},
		{"no role", actor(""), "Automations", autohook.ErrForbidden},
		{"unknown role", actor("admin"), "Automations", autohook.ErrForbidden},
		{"anyone signs in", actor(""), "SignIn", nil},
		{"the process itself", context.Background(), "Audit", nil},
		{"an operation not in the table", actor(autohook.RoleOwner), "Nothing", autohook.ErrForbidden},
	} {
		err := autohook.Allowed(c.ctx, c.op)
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: Allowed(%s) = %v, want %v", c.name, c.op, err, c.want)
		}
	}
	err := autohook.Allowed(actor(autohook.RoleViewer), "PutSecret")
	if want := `this needs the owner role; the API key "ci" has viewer`; err == nil || err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}
