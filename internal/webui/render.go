package webui

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/jsonnum"
	"github.com/autohook/autohook/internal/record"
)

// parseTemplates parses every page with the shared layout and partials:
// one template set per page, so each page defines its own "content".
func parseTemplates() map[string]*template.Template {
	base := template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/_*.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		file := path.Base(n)
		if strings.HasPrefix(file, "_") {
			continue
		}
		t := template.Must(template.Must(base.Clone()).ParseFS(templateFS, n))
		out[strings.TrimSuffix(file, ".html")] = t
	}
	return out
}

var funcs = template.FuncMap{
	"name": inputName,
	"add":  func(a, b int) int { return a + b },
	"mod":  func(a, b int) int { return a % b },
	"took": func(start time.Time, end *time.Time) string {
		if end == nil {
			return ""
		}
		return fmtMs(float64(end.Sub(start).Milliseconds()))
	},
	"add64":       func(a, b int64) int64 { return a + b },
	"time":        fmtTime,
	"ago":         ago,
	"iso":         func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ms":          fmtMs,
	"pretty":      prettyJSON,
	"body":        prettyBody,
	"cell":        cellValue,
	"label":       fieldLabel,
	"trigger":     triggerText,
	"triggerType": triggerLabel,
	"stepType":    stepTypeLabel,
	"stepDesc":    stepDesc,
	"recName":     recordName,
	"truncate":    truncate,
	"dict":        dict,
	"chart":       chart,
	"list":        func(v ...any) []any { return v },
	"dateFields":  dateFields,
	"join":        strings.Join,
	"str":         func(v any) string { return fmt.Sprint(v) },
	"sortedKeys": func(m map[string]string) []string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys
	},
}

// inputName joins parts into a form input name: name "steps" 0 "url" is
// "steps.0.url". The script computes the same names after rows move.
func inputName(parts ...any) string {
	s := make([]string, 0, len(parts))
	for _, p := range parts {
		if v := fmt.Sprint(p); v != "" {
			s = append(s, v)
		}
	}
	return strings.Join(s, ".")
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2 Jan 2006, 15:04:05 UTC")
}

// ago is a short relative time: "12 s ago", "in 3 min".
func ago(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := time.Since(t)
	suffix := " ago"
	if d < 0 {
		d, suffix = -d, ""
	}
	var s string
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(d.Hours()))
	default:
		s = fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	if suffix == "" {
		return "in " + s
	}
	return s + suffix
}

func fmtMs(v float64) string {
	switch {
	case v < 1:
		return "<1 ms"
	case v < 1000:
		return fmt.Sprintf("%d ms", int(math.Round(v)))
	default:
		return fmt.Sprintf("%.1f s", v/1000)
	}
}

func prettyJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// prettyBody indents a JSON body for reading (keeping its numbers and key
// order); other bodies are shown as they are.
func prettyBody(s string) string {
	t := strings.TrimSpace(s)
	if t == "" || (t[0] != '{' && t[0] != '[') {
		return s
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(t), "", "  "); err != nil {
		return s
	}
	return buf.String()
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func truncate(n int, s string) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// cellValue shows a record field in a table cell.
func cellValue(f record.Field, v any) string {
	if v == nil {
		return ""
	}
	switch f.Type {
	case record.Boolean:
		if b, ok := v.(bool); ok {
			if b {
				return "Yes"
			}
			return "No"
		}
	case record.Number:
		if n, ok := jsonnum.Text(v); ok {
			return n
		}
	case record.DateTime:
		if t, ok := record.Time(f.Type, v); ok {
			return t.UTC().Format("2006-01-02 15:04 UTC")
		}
	case record.JSON:
		return truncate(60, compactJSON(v))
	}
	if s, ok := v.(string); ok {
		return truncate(80, s)
	}
	return truncate(60, compactJSON(v))
}

// fieldLabel names a field for people: its name, else its key in words
// ("dueDate" is "Due date").
func fieldLabel(f record.Field) string {
	if f.Name != "" {
		return f.Name
	}
	var b strings.Builder
	for i, r := range f.Key {
		switch {
		case i == 0:
			b.WriteRune(unicode.ToUpper(r))
		case r == '_':
			b.WriteRune(' ')
		case unicode.IsUpper(r) && i > 0 && !unicode.IsUpper(rune(f.Key[i-1])):
			b.WriteRune(' ')
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// triggerText describes a trigger in words.
func triggerText(t automation.Trigger) string {
	switch t.Type {
	case automation.RecordAdded:
		return "Record added"
	case automation.RecordUpdated:
		if len(t.Fields) > 0 {
			return "Record updated (" + strings.Join(t.Fields, ", ") + ")"
		}
		return "Record updated"
	case automation.StageChanged:
		from, to := t.From, t.To
		if from == "" {
			from = "any"
		}
		if to == "" {
			to = "any"
		}
		if t.From == "" && t.To == "" {
			return "Stage changed"
		}
		return "Stage changed: " + from + " → " + to
	case automation.RecordDue:
		s := "Due: " + t.Field
		if t.Offset != "" {
			s += " " + t.Offset
		}
		return s
	case automation.Manual:
		return "Manual (record menu)"
	}
	return t.Type
}

// dict builds a map for sub-templates: dict "k1" v1 "k2" v2.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// flash is a one-time message shown on the next page, after a redirect.
type flash struct {
	Kind  string   `json:"k"` // "ok" or "error"
	Msg   string   `json:"m"`
	Items []string `json:"i,omitempty"`
	Link  string   `json:"l,omitempty"` // a path on this site
	Label string   `json:"t,omitempty"`
}

const flashCookie = "autohook_flash"

func setFlash(w http.ResponseWriter, r *http.Request, f flash) {
	b, _ := json.Marshal(f)
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/", HttpOnly: true, Secure: isTLS(r), SameSite: http.SameSiteLaxMode, MaxAge: 60})
}

func takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", HttpOnly: true, Secure: isTLS(r), SameSite: http.SameSiteLaxMode, MaxAge: -1})
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return nil
	}
	var f flash
	if json.Unmarshal(b, &f) != nil || f.Msg == "" {
		return nil
	}
	if !safeNext(f.Link) {
		f.Link = ""
	}
	return &f
}

// isTLS reports whether the browser reached us over HTTPS, directly or
// through a proxy that says so.
func isTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// redirect answers a form post with a redirect to a page (303, so the
// browser GETs it).
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}
