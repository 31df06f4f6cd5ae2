// Package internal_test checks the layering that docs/ARCHITECTURE.md
// describes, as `go list` sees it: the adapters reach storage and the
// engine only through the contract (internal/autohook), and the domain
// packages do no I/O. A failure names the package, what it reached, and
// the row of the table that forbids it.
package internal_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	// Linked in so that go test's cache knows this test's inputs: a change
	// to any of them builds a new test binary, and the test runs again
	// (what go list reads in a subprocess is not tracked).
	_ "github.com/autohook/autohook/internal/autohook"
	_ "github.com/autohook/autohook/internal/automation"
	_ "github.com/autohook/autohook/internal/httpapi"
	_ "github.com/autohook/autohook/internal/httperr"
	_ "github.com/autohook/autohook/internal/jsonnum"
	_ "github.com/autohook/autohook/internal/jsonpointer"
	_ "github.com/autohook/autohook/internal/problem"
	_ "github.com/autohook/autohook/internal/record"
	_ "github.com/autohook/autohook/internal/render"
	_ "github.com/autohook/autohook/internal/strictjson"
	_ "github.com/autohook/autohook/internal/webui"
)

const module = "github.com/autohook/autohook/internal/"

// pure are the domain packages: values, documents, checking, expressions.
// They import no I/O themselves (ioPackages) and depend on no other module
// package than these and retry and signing, which read HTTP's types (a
// status, Retry-After, headers) and send nothing.
var pure = []string{"automation", "record", "render", "jsonpointer", "jsonnum", "problem", "strictjson", "autohook"}

// layers is the rule, one row per layer: its packages, and every module
// package (under internal/) they may depend on, directly or not.
var layers = []struct {
	name     string
	pkgs     []string
	mayReach []string
	noIO     bool // import none of ioPackages themselves
	why      string
}{
	{"domain and contract", pure, append(slices.Clone(pure), "retry", "signing"), true,
		"values and rules, testable without a database or a network; the contract (autohook) is what the adapters see"},
	{"error table", []string{"httperr"}, append(slices.Clone(pure), "retry", "signing", "httperr"), false,
		"maps the contract's errors to HTTP; it knows no storage"},
	{"adapters", []string{"httpapi", "webui"}, append(slices.Clone(pure), "retry", "signing", "httperr", "throttle", "httpapi", "webui"), false,
		"the API and the UI call autohook.Service; never the store, the engine or the service's implementation"},
}

// ioPackages are the standard packages that do I/O: the network, files,
// processes, databases. "/..." takes in the packages beneath one too.
var ioPackages = []string{"net", "net/http/...", "net/rpc/...", "net/smtp", "database/sql/...", "os/...", "syscall", "plugin", "log/syslog"}

// drivers are the modules of databases and the queue: no row's packages may
// reach them, by any path.
var drivers = []string{"github.com/jackc/", "github.com/mattn/go-sqlite3", "github.com/riverqueue/", "modernc.org/sqlite"}

func TestLayers(t *testing.T) {
	t.Parallel()
	var all []string
	for _, l := range layers {
		for _, p := range l.pkgs {
			all = append(all, module+p)
		}
	}
	pkgs := goList(t, all...)
	for _, l := range layers {
		for _, p := range l.pkgs {
			pkg := pkgs[module+p]
			for _, d := range pkg.deps {
				if name, ok := strings.CutPrefix(d, module); ok && !slices.Contains(l.mayReach, name) {
					t.Errorf("internal/%s depends on internal/%s, which the %s layer may not reach (%s); it may reach: %s",
						p, name, l.name, l.why, strings.Join(l.mayReach, ", "))
				}
				for _, drv := range drivers {
					if strings.HasPrefix(d, drv) {
						t.Errorf("internal/%s depends on %s, a database or queue driver (%s layer: %s)", p, d, l.name, l.why)
					}
				}
			}
			if !l.noIO {
				continue
			}
			for _, imp := range pkg.imports {
				if io := doesIO(imp); io != "" {
					t.Errorf("internal/%s imports %s, which does I/O (%s; %s layer: %s)", p, imp, io, l.name, l.why)
				}
			}
		}
	}
}

// doesIO returns the entry of ioPackages that path falls under, or "".
func doesIO(path string) string {
	for _, io := range ioPackages {
		if family, ok := strings.CutSuffix(io, "/..."); ok {
			if path == family || strings.HasPrefix(path, family+"/") {
				return io
			}
		} else if path == io {
			return io
		}
	}
	return ""
}

// The done-when of issue 14 in its own words: go list -deps of the two
// adapters names neither the store nor the engine (nor the service that
// wires them).
func TestAdaptersReachNeitherStoreNorEngine(t *testing.T) {
	t.Parallel()
	pkgs := goList(t, module+"httpapi", module+"webui")
	for _, p := range pkgs {
		for _, d := range p.deps {
			if d == module+"store" || d == module+"engine" || d == module+"service" {
				t.Errorf("go list -deps ./internal/httpapi ./internal/webui names %s", d)
			}
		}
	}
}

// listed is what go list says of a package: every package it depends on,
// directly or not, and the ones it imports itself.
type listed struct{ deps, imports []string }

// goList runs go list on pkgs.
func goList(t *testing.T, pkgs ...string) map[string]listed {
	t.Helper()
	args := append([]string{"list", "-f", "{{.ImportPath}}\t{{join .Deps \" \"}}\t{{join .Imports \" \"}}"}, pkgs...)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg += ": " + string(ee.Stderr)
		}
		t.Fatalf("go %s: %s", strings.Join(args, " "), msg)
	}
	res := map[string]listed{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("go list printed %q", line)
		}
		res[f[0]] = listed{deps: strings.Fields(f[1]), imports: strings.Fields(f[2])}
	}
	return res
}
