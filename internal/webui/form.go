package webui

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/autohook/autohook/internal/problem"
)

// values is a posted form, one value per input name. Repeated rows use
// index-named inputs: steps.0.headers.1.value.
type values map[string]string

func formValues(f url.Values) values {
	v := make(values, len(f))
	for k, vs := range f {
		if len(vs) > 0 {
			v[k] = vs[len(vs)-1]
		}
	}
	return v
}

// trim returns the value of name without surrounding spaces.
func (v values) trim(name string) string { return strings.TrimSpace(v[name]) }

// on reports whether a checkbox is ticked.
func (v values) on(name string) bool {
	switch v[name] {
	case "on", "true", "1", "yes":
		return true
	}
	return false
}

// indices returns, in order, the row indices posted under prefix: for
// "steps" the i of every "steps.i.…" input. Rows may have gaps (a row
// removed without the script renumbering); their order is kept.
func (v values) indices(prefix string) []int {
	seen := map[int]bool{}
	p := prefix + "."
	for k := range v {
		rest, ok := strings.CutPrefix(k, p)
		if !ok {
			continue
		}
		seg, _, _ := strings.Cut(rest, ".")
		if n, err := strconv.Atoi(seg); err == nil && n >= 0 && n < 10000 {
			seen[n] = true
		}
	}
	out := make([]int, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// inputPath turns a problem path into the name of the input it is about:
// "steps[0].headers[1].value" is "steps.0.headers.1.value".
func inputPath(p string) string {
	p = strings.ReplaceAll(p, "[", ".")
	p = strings.ReplaceAll(p, "]", "")
	return strings.TrimPrefix(p, ".")
}

// parent is the name one level up: "steps.0.url" → "steps.0"; "" at the top.
func parent(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return ""
	}
	return name[:i]
}

// fieldErrors places validation problems next to the inputs they name. A
// page is rendered twice when it has problems: the first pass records which
// names have a place for messages (At), the second shows each problem at its
// input, or at the nearest enclosing place (a row, a step, the form) when
// no input has its exact name.
type fieldErrors struct {
	problems  []problem.Problem
	recording bool
	slots     map[string]bool
	placed    map[string][]fieldMessage
	values    values // what was typed, to point at a position in it
	// Verb is what did not happen: "saved" (the default) or "tested".
	Verb string
}

// fieldMessage is a problem shown at an input: its message and, for a
// problem at a position in the text typed (an expression), that line of
// the text with a caret under the position.
type fieldMessage struct {
	Text string
	Line string // the line of the input's text that holds the position
	Pad  string // spaces up to the position in Line
}

// String is the message, for templates that print it whole.
func (m fieldMessage) String() string { return m.Text }

// withValues keeps the form's values, so that problems with a position
// show the text typed with a caret under it.
func (e *fieldErrors) withValues(v values) *fieldErrors {
	if e != nil {
		e.values = v
	}
	return e
}

func newFieldErrors(ps []problem.Problem) *fieldErrors {
	if len(ps) == 0 {
		return nil
	}
	return &fieldErrors{problems: ps, recording: true, slots: map[string]bool{}}
}

// At returns the messages to show at name.
func (e *fieldErrors) At(name string) []fieldMessage {
	if e == nil {
		return nil
	}
	if e.recording {
		e.slots[name] = true
		return nil
	}
	return e.placed[name]
}

// Blank is an empty set, for the templates of new rows.
func (e *fieldErrors) Blank() *fieldErrors { return &fieldErrors{} }

// Any reports whether there are problems.
func (e *fieldErrors) Any() bool { return e != nil && len(e.problems) > 0 }

// All lists every problem with a readable place and the input to jump to.
func (e *fieldErrors) All() []placedProblem {
	if e == nil {
		return nil
	}
	out := make([]placedProblem, len(e.problems))
	for i, p := range e.problems {
		out[i] = placedProblem{Where: readablePath(p.Path), Message: p.Message, Anchor: e.slotOf(inputPath(p.Path))}
	}
	return out
}

type placedProblem struct {
	Where, Message, Anchor string
}

// place ends the recording pass.
func (e *fieldErrors) place() {
	if e == nil {
		return
	}
	e.recording = false
	e.placed = map[string][]fieldMessage{}
	for _, p := range e.problems {
		name := inputPath(p.Path)
		slot := e.slotOf(name)
		m := fieldMessage{Text: p.Message}
		if p.Position != nil && slot == name {
			m.Line, m.Pad = caret(e.values[name], *p.Position)
		}
		e.placed[slot] = append(e.placed[slot], m)
	}
}

func (e *fieldErrors) slotOf(name string) string {
	for n := name; n != ""; n = parent(n) {
		if e.slots[n] {
			return n
		}
	}
	return ""
}

// readablePath turns "steps[0].headers[1].value" into "Step 1 › headers
// row 2 › value".
func readablePath(p string) string {
	if p == "" {
		return ""
	}
	parts := strings.Split(inputPath(p), ".")
	var out []string
	for i := 0; i < len(parts); i++ {
		name := parts[i]
		if i+1 < len(parts) {
			if n, err := strconv.Atoi(parts[i+1]); err == nil {
				if name == "steps" {
					out = append(out, "Step "+strconv.Itoa(n+1))
				} else {
					out = append(out, name+" row "+strconv.Itoa(n+1))
				}
				i++
				continue
			}
		}
		out = append(out, name)
	}
	return strings.Join(out, " › ")
}

// caretWidth is the most of a line a caret snippet shows.
const caretWidth = 72

// caret returns the line of text that holds byte offset pos, cut to
// caretWidth runes around it, and the spaces that put a caret under pos.
// Both are empty when pos is not in text.
func caret(text string, pos int) (line, pad string) {
	if pos < 0 || pos > len(text) || !utf8.ValidString(text) {
		return "", ""
	}
	for pos < len(text) && !utf8.RuneStart(text[pos]) {
		pos-- // inside a rune: point at the rune (an offset counts bytes)
	}
	start := strings.LastIndexByte(text[:pos], '\n') + 1
	end := strings.IndexByte(text[pos:], '\n')
	if end < 0 {
		end = len(text)
	} else {
		end += pos
	}
	runes := []rune(text[start:end])
	col := utf8.RuneCountInString(text[start:pos])
	from := max(0, col-caretWidth/2)
	to := min(len(runes), from+caretWidth)
	line = string(runes[from:to])
	var b strings.Builder
	for _, r := range runes[from:col] {
		if r == '\t' {
			b.WriteRune('\t') // a tab before the position: the caret's line has it too
		} else {
			b.WriteByte(' ')
		}
	}
	pad = b.String()
	if from > 0 {
		line, pad = "…"+line, " "+pad
	}
	if to < len(runes) {
		line += "…"
	}
	return line, pad
}
