package main

import (
	"flag"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/server"
)

// TestSettingsTable holds the settings table of docs/OPERATIONS.md to
// serve's flags: every flag has a row naming it and its AUTOHOOK_*
// variable, every row names a flag or a variable serve reads, and a row's
// default shows the flag's default (a zero default may be described in
// words: "the step's timeout").
func TestSettingsTable(t *testing.T) {
	// Flags default to the variables: unset them, to see the defaults.
	for _, name := range []string{"AUTOHOOK_DATA_DIR", "AUTOHOOK_LISTEN", "AUTOHOOK_RETENTION", "AUTOHOOK_LOG_LEVEL", "AUTOHOOK_LOG_FORMAT",
		"AUTOHOOK_MAX_RESPONSE_BYTES", "AUTOHOOK_MAX_ATTEMPTS", "AUTOHOOK_MAX_WORKERS", "AUTOHOOK_MAX_PER_HOST", "AUTOHOOK_RATE_LIMIT",
		"AUTOHOOK_RESCUE_AFTER", "AUTOHOOK_BODY_IDLE_TIMEOUT"} {
		t.Setenv(name, "x")
		os.Unsetenv(name)
	}
	doc, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := settingsRows(t, string(doc))
	var cfg server.Config
	fs, _ := newServeFlags(&cfg, io.Discard)
	envOf := regexp.MustCompile(`AUTOHOOK_[A-Z_]+`)
	fs.VisitAll(func(f *flag.Flag) {
		row, ok := rows["--"+f.Name]
		if !ok {
			t.Errorf("--%s: no row in the settings table of docs/OPERATIONS.md", f.Name)
			return
		}
		if env := envOf.FindString(f.Usage); env == "" || !strings.Contains(row.names, "`"+env+"`") {
			t.Errorf("--%s: its row %q does not name its variable %q", f.Name, row.names, env)
		}
		if def := shortDefault(f.DefValue); def != "" && def != "0" && def != "false" && !strings.Contains(row.def, "`"+def+"`") {
			t.Errorf("--%s: the table's default %q does not show the flag's default `%s`", f.Name, row.def, def)
		}
	})
	for name, row := range rows {
		if strings.HasPrefix(name, "--") && fs.Lookup(strings.TrimPrefix(name, "--")) == nil {
			t.Errorf("the settings table names %s (%q), which serve does not take", name, row.names)
		}
	}
	for _, env := range []string{"AUTOHOOK_BOOTSTRAP_API_KEY", "AUTOHOOK_ADMIN_PASSWORD", "AUTOHOOK_SECRET_KEY", "AUTOHOOK_SECRET_KEY_PREVIOUS"} {
		if _, ok := rows[env]; !ok {
			t.Errorf("%s (read by serve): no row in the settings table", env)
		}
	}
}

type settingsRow struct{ names, def string }

// settingsRows reads the table under "## Settings": each flag (--name) and
// each variable a row names, to the row.
func settingsRows(t *testing.T, doc string) map[string]settingsRow {
	t.Helper()
	_, section, ok := strings.Cut(doc, "\n## Settings\n")
	if !ok {
		t.Fatal(`docs/OPERATIONS.md has no "## Settings" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	names := regexp.MustCompile("`(--[a-z-]+|AUTOHOOK_[A-Z_]+)`")
	rows := map[string]settingsRow{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 3 || !strings.HasPrefix(cells[0], "`") {
			continue
		}
		row := settingsRow{names: cells[0], def: cells[2]}
		for _, m := range names.FindAllStringSubmatch(cells[0], -1) {
			rows[m[1]] = row
		}
	}
	if len(rows) == 0 {
		t.Fatal("the settings table of docs/OPERATIONS.md has no rows")
	}
	return rows
}

// shortDefault writes a flag's default as the table does: 720h, not
// 720h0m0s; 0 for a zero duration.
func shortDefault(v string) string {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return v
	case d == 0:
		return "0"
	}
	return shortDuration(d)
}
