package storetest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/autohook/autohook/internal/store"
)

// TestEveryMethodHasASubtest fails when an exported function or method of
// the store package has no subtest in the conformance suite, so that a new
// method cannot reach main without running on every database. Methods of
// *Store and *Tx (including those they share) are found by reflection;
// functions and other types' methods from the package's source.
func TestEveryMethodHasASubtest(t *testing.T) {
	need := map[string]string{} // subtest name -> how Go spells what it tests
	for _, typ := range []reflect.Type{reflect.TypeFor[*store.Store](), reflect.TypeFor[*store.Tx]()} {
		for i := range typ.NumMethod() {
			m := typ.Method(i).Name
			if _, ok := need[m]; !ok {
				need[m] = "(" + typ.String() + ")." + m
			}
		}
	}
	_, funcs := storeFuncs(t)
	for _, fn := range funcs {
		if !fn.Name.IsExported() {
			continue
		}
		if fn.Recv == nil {
			need[fn.Name.Name] = "store." + fn.Name.Name
			continue
		}
		recv := receiverName(fn.Recv.List[0].Type)
		if !ast.IsExported(recv) || recv == "Store" || recv == "Tx" {
			continue // unexported types' methods reach callers through Store and Tx
		}
		need[recv+"."+fn.Name.Name] = "(store." + recv + ")." + fn.Name.Name
	}
	if len(need) < 70 {
		t.Fatalf("found only %d functions and methods: is ../ the store package?", len(need))
	}
	have := map[string]bool{}
	for _, st := range subtests {
		if have[st.name] {
			t.Errorf("two subtests are named %q", st.name)
		}
		have[st.name] = true
	}
	for name, what := range need {
		if !have[name] {
			t.Errorf("%s has no conformance subtest: write test%s(t *testing.T, s *suite) in internal/store/storetest "+
				"(in the file of its concept; s.shared is a store to share, s.fresh(t) a database of its own) and add "+
				"{%q, test%[2]s} to the subtests table in storetest.go; it then runs on SQLite and PostgreSQL",
				what, strings.ReplaceAll(name, ".", ""), name)
		}
	}
	for name := range have {
		if _, ok := need[name]; !ok {
			t.Errorf("subtest %q names no exported function or method of the store: renamed or removed? Rename or remove the subtest", name)
		}
	}
	t.Logf("%d functions and methods, %d subtests", len(need), len(subtests))
}

// storeFuncs parses the store package's source (../, tests left out) and
// returns its functions and methods.
func storeFuncs(t *testing.T) (*token.FileSet, []*ast.FuncDecl) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var out []*ast.FuncDecl
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok {
				out = append(out, fn)
			}
		}
	}
	return fset, out
}

func receiverName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return receiverName(x.X)
	case *ast.IndexExpr: // a generic type
		return receiverName(x.X)
	case *ast.Ident:
		return x.Name
	}
	return ""
}

// TestEveryCatalogWriterBumps fails when a function of the store package
// writes collections, automations, automation_versions or secrets (an
// INSERT, UPDATE or DELETE in its SQL) and is neither in catalogWriters,
// whose subtest proves it moves the organisation's generation on, nor
// listed below as writing only what no node caches.
func TestEveryCatalogWriterBumps(t *testing.T) {
	notCached := map[string]string{
		"CountRunOutcome":  "failure streak, alert count, pause: state read with the automation, not cached",
		"ResumeAutomation": "pause state: not cached",
		"MarkDueBuilt":     "due_version: read by the due scanner from the database",
		"SaveAutomationBy": "", // listed in catalogWriters; here so a rename shows
		"SaveAutomation":   "",
		"CreateCollection": "",
		"UpdateCollection": "",
		"DeleteCollection": "",
		"DeleteAutomation": "",
		"PutSecret":        "",
		"DeleteSecret":     "",
		"Reseal":           "",
	}
	listed := map[string]bool{}
	for _, w := range catalogWriters {
		listed[w.name] = true
	}
	writes := regexp.MustCompile(`(?is)\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(collections|automations|automation_versions|secrets)\b`)
	fset, funcs := storeFuncs(t)
	found := 0
	for _, fn := range funcs {
		if fn.Body == nil {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING || !writes.MatchString(lit.Value) {
				return true
			}
			found++
			name := fn.Name.Name
			if !listed[name] && notCached[name] == "" {
				t.Errorf("%s (%s) writes %s and is not in catalogWriters: call tx.bumpCatalog in it and add a row to catalogWriters (gen.go), or say in notCached why no node caches what it writes",
					name, fset.Position(lit.Pos()), writes.FindString(lit.Value))
			}
			return false
		})
	}
	if found < 8 {
		t.Fatalf("found only %d writing statements: is ../ the store package?", found)
	}
	for _, w := range catalogWriters {
		if _, ok := notCached[w.name]; !ok {
			t.Errorf("catalogWriters row %q is missing from this test's list", w.name)
		}
	}
}
