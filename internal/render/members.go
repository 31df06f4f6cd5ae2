package render

import (
	"slices"

	"github.com/expr-lang/expr/ast"
)

// Members returns the names of root's members that the expression reads by
// a constant name (secrets.CRM_KEY, secrets["CRM_KEY"], secrets?.CRM_KEY),
// sorted, without duplicates. A member read by a computed name
// (secrets[record.kind]) or through $env is not listed: this is for advice
// (an import warns about secrets an organisation lacks), not for checks.
func (e *Expr) Members(root string) []string {
	if !e.Uses(root) {
		return nil
	}
	node := e.prog.Node()
	v := &memberVisitor{root: root}
	ast.Walk(&node, v)
	slices.Sort(v.names)
	return slices.Compact(v.names)
}

// Members is Expr.Members over every expression of the template.
func (t *Template) Members(root string) []string {
	var out []string
	for _, p := range t.parts {
		if p.expr != nil {
			out = append(out, p.expr.Members(root)...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

type memberVisitor struct {
	root  string
	names []string
}

func (v *memberVisitor) Visit(node *ast.Node) {
	if root, name, ok := constantMember(*node); ok && root == v.root {
		v.names = append(v.names, name.Value)
	}
}
