package storetest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
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
	files, err := filepath.Glob(filepath.Join("..", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || !fn.Name.IsExported() {
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
