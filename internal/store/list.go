package store

import (
	"context"
	"strings"
)

// where builds a WHERE clause from conditions and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// list runs "SELECT cols FROM from WHERE ... ORDER BY id DESC" one page at a
// time: newest first, keyed by id (ids sort by creation time).
func list[T any](ctx context.Context, o ops, page Page, cols, from string, w where, scan func(rows) (T, error), id func(T) string) ([]T, string, error) {
	after, err := cursorAfter(page)
	if err != nil {
		return nil, "", err
	}
	if after != "" {
		w.add("id < ?", after)
	}
	q := "SELECT " + cols + " FROM " + from + w.String() + " ORDER BY id DESC LIMIT ?"
	return queryPage(ctx, o, q, w.args, page.Size(), scan, func(v T) string { return cursorFor(id(v)) })
}

// queryPage runs q, a query that ends in "LIMIT ?", for one page of n
// items: it asks for n+1 rows, to know whether there is another page, and
// returns the cursor of the last item kept when there is.
func queryPage[T any](ctx context.Context, o ops, q string, args []any, n int, scan func(rows) (T, error), cursor func(T) string) ([]T, string, error) {
	rs, err := o.q.query(ctx, q, append(args, n+1)...)
	if err != nil {
		return nil, "", err
	}
	defer rs.Close()
	var out []T
	for rs.Next() {
		v, err := scan(rs)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	if err := rs.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > n {
		out = out[:n]
		next = cursor(out[n-1])
	}
	return out, next, nil
}
