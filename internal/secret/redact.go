package secret

import (
	"bytes"
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Redacted replaces a secret wherever it would be shown.
const Redacted = "[redacted]"

// Redactor replaces every occurrence of a set of values with Redacted. It is
// safe for concurrent use; the zero value and a nil *Redactor redact nothing.
type Redactor struct {
	values []string // every form of each value, longest first, no empties, no duplicates
}

// NewRedactor returns a Redactor for values; empty values are ignored.
//
// Besides each value as given, it redacts the forms the value takes inside a
// rendered request: URL-escaped (query and path) and escaped inside a JSON
// string (also twice, for a JSON body echoed inside a JSON string). Where
// occurrences overlap, the whole overlapping stretch is
// redacted, so no part of either value shows.
func NewRedactor(values ...string) *Redactor {
	return (*Redactor)(nil).With(values...)
}

// With returns a Redactor that also redacts values; r itself when there are
// none. Only the new values' forms are computed.
func (r *Redactor) With(values ...string) *Redactor {
	if len(values) == 0 && r != nil {
		return r
	}
	var all []string
	if r != nil {
		all = slices.Clone(r.values) // sorted below: r stays as it is
	}
	for _, v := range values {
		if v == "" {
			continue
		}
		forms := []string{v, url.QueryEscape(v), url.PathEscape(v), jsonEscape(v, true), jsonEscape(v, false)}
		// A receiver may echo a JSON body inside a JSON string: escaped twice.
		for _, f := range forms[3:] {
			forms = append(forms, jsonEscape(f, true), jsonEscape(f, false))
		}
		all = append(all, forms...)
	}
	slices.SortFunc(all, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b))
	})
	return &Redactor{values: slices.Compact(all)}
}

// jsonEscape returns v as it appears between the quotes of a JSON string.
func jsonEscape(v string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(v) // a string always encodes
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return string(out[1 : len(out)-1])
}

// String returns s with every occurrence of the values replaced by Redacted.
func (r *Redactor) String(s string) string {
	if r == nil || len(r.values) == 0 || s == "" {
		return s
	}
	// Mark the byte ranges to hide: every occurrence of every value,
	// overlapping ones included.
	var spans [][2]int
	for _, v := range r.values {
		for from := 0; from < len(s); {
			i := strings.Index(s[from:], v)
			if i < 0 {
				break
			}
			spans = append(spans, [2]int{from + i, from + i + len(v)})
			from += i + 1
		}
	}
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
	var b strings.Builder
	last := 0
	for i := 0; i < len(spans); {
		start, end := spans[i][0], spans[i][1]
		// Merge spans that overlap this one; touching spans stay apart.
		for i++; i < len(spans) && spans[i][0] < end; i++ {
			end = max(end, spans[i][1])
		}
		b.WriteString(s[last:start])
		b.WriteString(Redacted)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// Bytes is String for a byte slice; it returns a new slice (nil for nil).
func (r *Redactor) Bytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return []byte(r.String(string(b)))
}

// alwaysRedacted lists, in canonical form, the headers whose values history
// never shows, whatever they contain.
var alwaysRedacted = []string{
	"Authorization",
	"Cookie",
	"Set-Cookie",
	"Proxy-Authorization",
	"X-Api-Key",
}

// AlwaysRedactedHeader reports whether the values of the header name are
// always redacted in history: Authorization, Cookie, Set-Cookie,
// Proxy-Authorization and X-Api-Key, in any case.
func AlwaysRedactedHeader(name string) bool {
	return slices.Contains(alwaysRedacted, http.CanonicalHeaderKey(strings.TrimSpace(name)))
}
