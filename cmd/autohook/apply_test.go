package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/servertest"
)

// cli runs the autohook binary with args and extra environment, and
// returns its exit status and output.
func cli(t *testing.T, env []string, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, autohookBinary(t), args...)
	cmd.Env = serveEnv(env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		status = exit.ExitCode()
	case err != nil:
		t.Fatalf("autohook %v: %v", args, err)
	}
	return status, out.String(), errOut.String()
}

// TestExportApply drives `autohook export` and `autohook apply` against a
// real server: export to a file, plan it into another organisation (exit
// 2, all create), apply it, plan again (exit 0, no changes), plan an edit
// (exit 2, the update with its path), and a broken file (exit 1, the path).
func TestExportApply(t *testing.T) {
	t.Parallel()
	n := servertest.Start(t)
	a := &n.Client
	a.Must(t, 201, "POST", "/api/v1/collections", `{"key":"leads","name":"Leads","fields":[{"key":"name","type":"text"},{"key":"value","type":"number"}]}`, nil)
	a.Must(t, 201, "POST", "/api/v1/automations", `{"name":"Notify CRM","collection":"leads","trigger":{"type":"record_added"},"condition":"record.value > 1000",
		"steps":[{"id":"crm","type":"call_api","method":"POST","url":"https://crm.example.com/leads","headers":[{"name":"Authorization","value":"Bearer {secrets.CRM_KEY}"}]}]}`, nil)
	a.Must(t, 201, "POST", "/api/v1/automations", `{"name":"Mark","collection":"leads","trigger":{"type":"manual"},
		"steps":[{"type":"update_record","set":[{"field":"name","value":"{upper(record.name)}"}]}]}`, nil)
	dir := t.TempDir()
	file := filepath.Join(dir, "autohook.json")

	// export, with flags
	status, out, errOut := cli(t, nil, "export", "--server", a.Base, "--api-key", a.Key, "-o", file)
	if status != 0 || out != "" {
		t.Fatalf("export: status %d, stdout %q, stderr %s", status, out, errOut)
	}
	exported, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if api := a.Must(t, 200, "GET", "/api/v1/export", nil, nil); !bytes.Equal(api.Body, exported) {
		t.Errorf("the file is not the API's export:\n%s\n%s", exported, api.Body)
	}
	// and to standard output, with the environment
	env := []string{"AUTOHOOK_SERVER=" + a.Base, "AUTOHOOK_API_KEY=" + a.Key}
	if status, out, _ = cli(t, env, "export"); status != 0 || out != string(exported) {
		t.Errorf("export to stdout: status %d:\n%s", status, out)
	}

	// Another organisation, through the environment.
	var org struct{ APIKey string }
	a.Must(t, 201, "POST", "/api/v1/organisations", `{"name":"Production"}`, &org)
	env = []string{"AUTOHOOK_SERVER=" + a.Base + "/", "AUTOHOOK_API_KEY=" + org.APIKey}
	status, out, errOut = cli(t, env, "apply", "-f", file, "--plan")
	wantLines(t, "plan into a fresh organisation", status, 2, out+errOut,
		"  + collection leads", `  + automation "Notify CRM"`, "  + automation Mark",
		"Warnings:", "  ! automations[1].steps[0].headers[0].value: secret CRM_KEY does not exist",
		"Plan: 3 to create, 0 to update, 0 to delete, 0 unchanged.")
	status, out, errOut = cli(t, env, "apply", "-f", file)
	wantLines(t, "apply", status, 0, out+errOut, "  + collection leads", "Applied: 3 created, 0 updated, 0 deleted, 0 unchanged.")
	status, out, errOut = cli(t, env, "apply", "-f", file, "--plan")
	wantLines(t, "plan after applying", status, 0, out+errOut, "  = collection leads", `  = automation "Notify CRM"`, "No changes: the server matches the file.")

	// An edit: exactly that automation, with its path; from stdin.
	edited := strings.Replace(string(exported), `"condition": "record.value > 1000"`, `"condition": "record.value > 5000"`, 1)
	cmd := exec.Command(autohookBinary(t), "apply", "-f", "-", "--plan")
	cmd.Env = serveEnv(env...)
	cmd.Stdin = strings.NewReader(edited)
	got, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("plan of an edit: %v\n%s", err, got)
	}
	wantLines(t, "plan of an edit", exit.ExitCode(), 2, string(got), `  ~ automation "Notify CRM"`, "      ~ condition", "  = automation Mark", "Plan: 0 to create, 1 to update, 0 to delete, 2 unchanged.")

	// --prune shows what would go.
	only := strings.Replace(string(exported), `"name": "Mark"`, `"name": "Mark 2"`, 1)
	if err := os.WriteFile(file, []byte(only), 0o644); err != nil {
		t.Fatal(err)
	}
	status, out, errOut = cli(t, env, "apply", "-f", file, "--plan", "--prune")
	wantLines(t, "plan with prune", status, 2, out+errOut, "  + automation \"Mark 2\"", "  - automation Mark", "Plan: 1 to create, 0 to update, 1 to delete, 2 unchanged.")

	// A broken file: exit 1, the path named, nothing changed.
	broken := strings.Replace(string(exported), `"url": "https://crm.example.com/leads"`, `"url": "https://crm.example.com/{record.name"`, 1)
	if err := os.WriteFile(file, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	before := n.As(org.APIKey).Must(t, 200, "GET", "/api/v1/export", nil, nil).Body
	status, out, errOut = cli(t, env, "apply", "-f", file)
	wantLines(t, "a broken file", status, 1, out+errOut, "autohook: apply: the server refused the file (validation_failed):", "  automations[1].steps[0].url: ")
	if after := n.As(org.APIKey).Must(t, 200, "GET", "/api/v1/export", nil, nil).Body; !bytes.Equal(before, after) {
		t.Errorf("a refused apply changed the organisation:\n%s", after)
	}

	// Usage errors and a wrong key: exit 1, saying what is wrong.
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"apply", "-f", file}, "give the server: --server URL or AUTOHOOK_SERVER"},
		{[]string{"AUTOHOOK_SERVER=" + a.Base}, []string{"export"}, "give an API key"},
		{env, []string{"apply"}, "give the file: -f FILE"},
		{env, []string{"apply", "-f", filepath.Join(dir, "nope.json")}, "no such file"},
		{[]string{"AUTOHOOK_SERVER=ftp://x", "AUTOHOOK_API_KEY=k"}, []string{"export"}, "want a URL like"},
		{[]string{"AUTOHOOK_SERVER=" + a.Base, "AUTOHOOK_API_KEY=ahk_wrong"}, []string{"export"}, "unknown or revoked (unauthorized)"},
	} {
		status, out, errOut := cli(t, c.env, c.args...)
		if status != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: status %d, stderr %q, stdout %q; want 1 and %q", c.args, status, errOut, out, c.want)
		}
	}
}

// wantLines checks an exit status and that the output has each line.
func wantLines(t *testing.T, what string, status, wantStatus int, out string, lines ...string) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("%s: exit status %d, want %d:\n%s", what, status, wantStatus, out)
	}
	have := strings.Split(out, "\n")
	for _, l := range lines {
		found := false
		for _, h := range have {
			if strings.HasPrefix(h, l) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: no line starting %q in:\n%s", what, l, out)
		}
	}
}
