package automation

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/textproto"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/autohook/autohook/internal/jsonpointer"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/render"
	"github.com/autohook/autohook/internal/signing"
)

// Limits and defaults of automation documents.
const (
	MaxSteps          = 20
	MaxHeaders        = 50
	MaxBodyFields     = 200
	MaxSchema         = 100
	MaxAssignments    = 100
	MaxNameLen        = 200
	DefaultTimeout    = 30 * time.Second
	MaxTimeout        = 120 * time.Second
	MaxAttemptsLimit  = 50
	MaxTemplateLength = 16 << 10
	// MaxPauseAfterFailures bounds pauseAfterFailures.
	MaxPauseAfterFailures = 1_000_000
)

// Options tune compilation.
type Options struct {
	Render render.Options
}

// Compiled is an automation ready to run: every template, expression and JSON
// Pointer compiled. It is immutable and safe for concurrent use.
type Compiled struct {
	ID         string
	Version    int64
	Name       string
	Collection string
	Enabled    bool
	Trigger    Trigger
	DueOffset  time.Duration // record_due
	Condition  *render.Expr  // nil: always
	Steps      []Step
	Signer     *signing.Signer // nil: unsigned
	// SignerErr says why a signed version has no Signer: its stored
	// signing secret does not open with the node's keys. Its call_api
	// steps fail (class secret) rather than go out unsigned.
	SignerErr error
}

// Step is one compiled step. Each step type is its own type; adding a step
// type means a StepSpec option or two, a compile function below and a case in
// the engine.
type Step interface {
	StepID() string
	StepType() string
	StepFlow() *Flow
}

// Flow is what every step type has: whether it runs, and what its failure
// does to the run.
type Flow struct {
	If       *render.Expr // nil: always; false: the step is skipped
	Continue bool         // onError "continue": a failure for good goes on with the next step
}

// StepFlow returns the step's flow options.
func (f *Flow) StepFlow() *Flow { return f }

var (
	_ Step = (*CallAPI)(nil)
	_ Step = (*UpdateRecord)(nil)
)

// CallAPI is a compiled call_api step.
type CallAPI struct {
	Flow
	ID          string
	Method      string
	URL         *render.URLTemplate
	Headers     []CompiledHeader
	ContentType string // "", ContentText, ContentJSON or ContentForm
	Text        *render.Template
	JSONFields  []CompiledBodyField
	FormFields  []CompiledBodyField // Type is ""
	Timeout     time.Duration
	MaxAttempts int // 0: the server default
	Response    CompiledResponse
	Auth        *CompiledAuth // nil: none
	// MaxPerSecond spreads the step's requests, cluster-wide, to at most
	// this many per second; 0: no limit.
	MaxPerSecond float64
	// KeepBodyOnRedirect: a 307 or 308 redirect to another origin
	// re-sends the body (StepSpec.KeepBodyOnRedirect).
	KeepBodyOnRedirect bool
}

// CompiledHeader is a header with a compiled value.
type CompiledHeader struct {
	Name  string
	Value *render.Template
}

// CompiledBodyField is a JSON or form body key with a compiled, typed
// value, or a JSON literal (Value nil), sent as written.
type CompiledBodyField struct {
	Key     string
	Type    render.FieldType
	Value   *render.Template
	Literal []byte
}

// CompiledResponse says what to capture from a response.
type CompiledResponse struct {
	Type   string
	Field  string
	Schema []CompiledMapping
}

// CompiledMapping is a compiled response mapping: Status, else Header
// (canonical), else Pointer.
type CompiledMapping struct {
	Pointer  jsonpointer.Pointer
	Header   string
	Status   bool
	Field    string
	Required bool
}

func (s *CallAPI) StepID() string   { return s.ID }
func (s *CallAPI) StepType() string { return TypeCallAPI }

// UpdateRecord is a compiled update_record step.
type UpdateRecord struct {
	Flow
	ID  string
	Set []CompiledAssignment
}

// CompiledAssignment sets a record field (or the stage) from a template.
type CompiledAssignment struct {
	Field string
	Type  record.FieldType // "" for the stage
	Value *render.Template
}

func (s *UpdateRecord) StepID() string   { return s.ID }
func (s *UpdateRecord) StepType() string { return TypeUpdateRecord }

var (
	stepIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	methods       = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	// headers Autohook sets itself or that would break the request framing.
	reservedHeaders = []string{"host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer", "keep-alive", "proxy-connection"}
)

// Compile checks an automation document against its collection and compiles
// it. With a nil collection the checks that need it are skipped: that is how
// stored versions, checked when they were saved, are compiled again. Problems are returned together
// as a *problem.Error naming each path; warnings are returned even when the
// document compiles. signingSecret is the plaintext signing secret, when the
// document has one (the document's own Secret may be SecretRedacted).
func Compile(a *Automation, coll *record.Collection, signingSecret string, opts Options) (*Compiled, []problem.Problem, error) {
	if coll != nil && opts.Render.Shape == nil {
		opts.Render.Shape = ShapeOf(coll) // names and types checked at save (names.go)
	}
	c := &compiler{opts: opts, coll: coll}
	out := c.compile(a, signingSecret)
	if err := c.problems.Err(); err != nil {
		return nil, c.warnings, err
	}
	return out, c.warnings, nil
}

type compiler struct {
	opts     Options
	coll     *record.Collection
	problems problem.List
	warnings problem.List
}

func (c *compiler) compile(a *Automation, signingSecret string) *Compiled {
	out := &Compiled{ID: a.ID, Version: a.Version, Name: a.Name, Collection: a.Collection, Enabled: a.Enabled, Trigger: a.Trigger}
	switch {
	case strings.TrimSpace(a.Name) == "":
		c.problems.Add("name", "is required")
	case len(a.Name) > MaxNameLen:
		c.problems.Add("name", "must be at most %d characters", MaxNameLen)
	}
	if a.Collection == "" {
		c.problems.Add("collection", "is required")
	}
	if n := a.PauseAfterFailures; n != nil && (*n < 0 || *n > MaxPauseAfterFailures) {
		c.problems.Add("pauseAfterFailures", "must be 0 (never pause) to %d runs in a row", MaxPauseAfterFailures)
	}
	out.DueOffset = c.trigger(a.Trigger)
	if strings.TrimSpace(a.Condition) != "" {
		e, err := render.CompileExpr(a.Condition, c.opts.Render)
		if err != nil {
			c.exprProblem("condition", err)
		} else {
			c.noBody("condition", e)
		}
		out.Condition = e
	}
	switch {
	case len(a.Steps) == 0:
		c.problems.Add("steps", "at least one step is required")
	case len(a.Steps) > MaxSteps:
		c.problems.Add("steps", "at most %d steps", MaxSteps)
	}
	given := map[string]bool{}
	for _, s := range a.Steps {
		given[s.ID] = true
	}
	ids := map[string]bool{}
	var earlier []string // step ids before step i, for steps.<id>
	base := c.opts.Render.Shape
	defer func() { c.opts.Render.Shape = base }()
	for i := range a.Steps {
		s := &a.Steps[i]
		path := problem.Join("steps", i)
		if base != nil {
			sh := *base
			sh.Steps = slices.Clone(earlier)
			c.opts.Render.Shape = &sh
		}
		if s.ID == "" {
			// stepN, skipping ids that other steps were given
			for n := i + 1; ; n++ {
				if id := fmt.Sprintf("step%d", n); !given[id] && !ids[id] {
					s.ID = id
					break
				}
			}
		}
		switch {
		case !stepIDPattern.MatchString(s.ID):
			c.problems.Add(path+".id", "must be 1 to 64 letters, digits, '_' or '-'")
		case ids[s.ID]:
			c.problems.Add(path+".id", "duplicate step id %q", s.ID)
		}
		ids[s.ID] = true
		earlier = append(earlier, s.ID)
		flow := c.flow(path, s)
		switch s.Type {
		case TypeCallAPI:
			st := c.callAPI(path, s)
			st.Flow = flow
			out.Steps = append(out.Steps, st)
		case TypeUpdateRecord:
			st := c.updateRecord(path, s)
			st.Flow = flow
			out.Steps = append(out.Steps, st)
		case "":
			c.problems.Add(path+".type", "is required (one of %s)", strings.Join(StepTypes, ", "))
		default:
			c.problems.Add(path+".type", "unknown step type %q (one of %s)", s.Type, strings.Join(StepTypes, ", "))
		}
	}
	if a.Signing != nil {
		secret := signingSecret
		if secret == "" {
			secret = a.Signing.Secret
		}
		signer, err := signing.NewSigner(secret)
		if err != nil {
			c.problems.Add("signing.secret", "%v", err)
		}
		out.Signer = signer
	}
	return out
}

func (c *compiler) trigger(t Trigger) time.Duration {
	if !slices.Contains(TriggerTypes, t.Type) {
		if t.Type == "" {
			c.problems.Add("trigger.type", "is required (one of %s)", strings.Join(TriggerTypes, ", "))
		} else {
			c.problems.Add("trigger.type", "unknown trigger %q (one of %s)", t.Type, strings.Join(TriggerTypes, ", "))
		}
		return 0
	}
	notFor := func(name string, set bool) {
		if set {
			c.problems.Add("trigger."+name, "is not an option of %s", t.Type)
		}
	}
	if t.Type != RecordUpdated {
		notFor("fields", len(t.Fields) > 0)
	}
	if t.Type != StageChanged {
		notFor("from", t.From != "")
		notFor("to", t.To != "")
	}
	if t.Type != RecordDue {
		notFor("field", t.Field != "")
		notFor("offset", t.Offset != "")
	}
	switch t.Type {
	case RecordUpdated:
		for i, f := range t.Fields {
			if c.coll != nil {
				if _, ok := c.coll.Field(f); !ok {
					c.problems.Add(problem.Join("trigger.fields", i), "collection %q has no field %q", c.coll.Key, f)
				}
			}
		}
	case StageChanged:
		if c.coll != nil {
			if t.From != "" && !c.coll.HasStage(t.From) {
				c.problems.Add("trigger.from", "collection %q has no stage %q", c.coll.Key, t.From)
			}
			if t.To != "" && !c.coll.HasStage(t.To) {
				c.problems.Add("trigger.to", "collection %q has no stage %q", c.coll.Key, t.To)
			}
		}
	case RecordDue:
		if t.Field == "" {
			c.problems.Add("trigger.field", "is required: the date or datetime field that is due")
		} else if c.coll != nil {
			f, ok := c.coll.Field(t.Field)
			switch {
			case !ok:
				c.problems.Add("trigger.field", "collection %q has no field %q", c.coll.Key, t.Field)
			case f.Type != record.Date && f.Type != record.DateTime:
				c.problems.Add("trigger.field", "field %q is %s; a due trigger needs a date or datetime field", t.Field, f.Type)
			}
		}
		if t.Offset != "" {
			d, err := ParseOffset(t.Offset)
			if err != nil {
				c.problems.Add("trigger.offset", "%v", err)
			}
			return d
		}
	}
	return 0
}

// ParseOffset parses a due-trigger offset: a Go duration ("-24h", "90m") or
// a whole number of days ("-2d").
func ParseOffset(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < -3650 || n > 3650 {
			return 0, fmt.Errorf("must be a duration such as \"-24h\", \"30m\" or \"-2d\", got %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("must be a duration such as \"-24h\", \"30m\" or \"-2d\", got %q", s)
	}
	return d, nil
}

// flow compiles the options every step type has: if and onError.
func (c *compiler) flow(path string, s *StepSpec) Flow {
	var f Flow
	switch s.OnError {
	case "", OnErrorFail:
	case OnErrorContinue:
		f.Continue = true
	default:
		c.problems.Add(path+".onError", "must be %q (the default: the run fails) or %q (the run goes on with the next step)", OnErrorFail, OnErrorContinue)
	}
	if strings.TrimSpace(s.If) != "" {
		e, err := render.CompileExpr(s.If, c.opts.Render)
		if err != nil {
			c.exprProblem(path+".if", err)
		} else {
			c.noBody(path+".if", e)
		}
		f.If = e
	}
	return f
}

// template compiles a template that cannot see the request body: only
// header values can (headerTemplate).
func (c *compiler) template(path, src string) *render.Template {
	t := c.headerTemplate(path, src)
	if t != nil {
		c.noBody(path, t)
	}
	return t
}

// headerTemplate compiles a template that may use body, the request body
// as sent.
func (c *compiler) headerTemplate(path, src string) *render.Template {
	if len(src) > MaxTemplateLength {
		c.problems.Add(path, "must be at most %d bytes", MaxTemplateLength)
		return nil
	}
	t, err := render.CompileTemplate(src, c.opts.Render)
	if err != nil {
		c.exprProblem(path, err)
	}
	return t
}

// noBody refuses body where there is no request body to see yet.
func (c *compiler) noBody(path string, t interface{ Uses(string) bool }) {
	if t.Uses(render.RootBody) {
		c.problems.Add(path, "body is the request body as sent, which only header values can use")
	}
}

func (c *compiler) callAPI(path string, s *StepSpec) *CallAPI {
	if len(s.Set) > 0 {
		c.problems.Add(path+".set", "is not an option of call_api")
	}
	out := &CallAPI{ID: s.ID, Timeout: DefaultTimeout, MaxAttempts: s.MaxAttempts, KeepBodyOnRedirect: s.KeepBodyOnRedirect}
	hasBody := s.Body != nil
	switch {
	case s.Method == "" && hasBody:
		s.Method = "POST"
	case s.Method == "":
		s.Method = "GET"
	case !slices.Contains(methods, s.Method):
		// In capitals, as HTTP writes them and the OpenAPI document's enum
		// says: "post" is refused rather than read as POST, so that what
		// the document accepts is what the server accepts.
		msg := "must be one of %s"
		if slices.Contains(methods, strings.ToUpper(s.Method)) {
			msg += " (in capitals: " + strings.ToUpper(s.Method) + ")"
		}
		c.problems.Add(path+".method", msg, strings.Join(methods, ", "))
	}
	out.Method = s.Method
	if hasBody && slices.Contains(methods, s.Method) && !slices.Contains([]string{"POST", "PUT", "PATCH"}, s.Method) {
		c.problems.Add(path+".body", "a body is allowed only with POST, PUT or PATCH, not %s", s.Method)
	}
	if strings.TrimSpace(s.URL) == "" {
		c.problems.Add(path+".url", "is required")
	} else if len(s.URL) > MaxTemplateLength {
		c.problems.Add(path+".url", "must be at most %d bytes", MaxTemplateLength)
	} else {
		u, err := render.CompileURL(s.URL, c.opts.Render)
		if err != nil {
			c.exprProblem(path+".url", err)
		} else {
			c.noBody(path+".url", u)
			switch {
			case u.HasPassword():
				c.warnings.Add(path+".url", "the URL holds a password (user:password@): it is sent as Basic auth and hidden in history, but URLs end up in logs and proxies, so credentials belong in headers")
			case u.Uses("secrets"):
				c.warnings.Add(path+".url", "the URL uses a secret: URLs end up in logs and proxies, so credentials belong in headers")
			}
			if u.HostUses("record") || u.HostUses("previous") || u.HostUses("fields") {
				c.warnings.Add(path+".url", "the host comes from a value: a value in the host must be a host name label (letters, digits, '-', '_'), in the port digits, else the run fails with invalid_url")
			}
		}
		out.URL = u
	}
	if len(s.Headers) > MaxHeaders {
		c.problems.Add(path+".headers", "at most %d headers", MaxHeaders)
	}
	for i, h := range s.Headers {
		hp := problem.Join(path, "headers", i)
		switch {
		case !validHeaderName(h.Name):
			c.problems.Add(hp+".name", "%q is not a valid header name", h.Name)
		case slices.Contains(reservedHeaders, strings.ToLower(h.Name)):
			c.problems.Add(hp+".name", "%s is set by Autohook and cannot be overridden", h.Name)
		}
		if i := strings.IndexFunc(h.Value, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }); i >= 0 {
			c.problems.Add(hp+".value", "holds a control character at position %d: header values cannot contain CR, LF or other control characters", i)
		}
		out.Headers = append(out.Headers, CompiledHeader{Name: textproto.CanonicalMIMEHeaderKey(h.Name), Value: c.headerTemplate(hp+".value", h.Value)})
	}
	if hasBody {
		c.body(path+".body", s.Body, out)
	} else if s.KeepBodyOnRedirect {
		c.warnings.Add(path+".keepBodyOnRedirect", "the step sends no body, so there is none to keep")
	}
	switch {
	case s.TimeoutSeconds == 0:
	case s.TimeoutSeconds < 1 || time.Duration(s.TimeoutSeconds)*time.Second > MaxTimeout:
		c.problems.Add(path+".timeoutSeconds", "must be between 1 and %d", int(MaxTimeout/time.Second))
	default:
		out.Timeout = time.Duration(s.TimeoutSeconds) * time.Second
	}
	if s.MaxAttempts < 0 || s.MaxAttempts > MaxAttemptsLimit {
		c.problems.Add(path+".maxAttempts", "must be between 1 and %d (0 or absent: the server default)", MaxAttemptsLimit)
	}
	c.response(path+".response", s.Response, out)
	c.auth(path, s, out)
	c.maxPerSecond(path+".maxPerSecond", s.MaxPerSecond, out)
	return out
}

func (c *compiler) body(path string, b *Body, out *CallAPI) {
	out.ContentType = b.ContentType
	switch b.ContentType {
	case ContentText:
		if len(b.Fields) > 0 {
			c.problems.Add(path+".fields", "are for application/json and form bodies; a text/plain body has text")
		}
		out.Text = c.template(path+".text", b.Text)
	case ContentJSON:
		if b.Text != "" {
			c.problems.Add(path+".text", "is for text/plain bodies; an application/json body has fields")
		}
		if len(b.Fields) > MaxBodyFields {
			c.problems.Add(path+".fields", "at most %d fields", MaxBodyFields)
		}
		keys := map[string]bool{}
		for i, f := range b.Fields {
			fp := problem.Join(path, "fields", i)
			switch {
			case f.Key == "":
				c.problems.Add(fp+".key", "is required")
			case keys[f.Key]:
				c.problems.Add(fp+".key", "duplicate key %q", f.Key)
			}
			keys[f.Key] = true
			typ := render.FieldType(f.Type)
			if !slices.Contains(bodyTypes, typ) {
				c.problems.Add(fp+".type", "must be one of string, number, boolean, json")
			}
			cf := CompiledBodyField{Key: f.Key, Type: typ}
			if lit, ok := jsonLiteral(f.Value); ok && typ == render.TypeJSON {
				cf.Literal = c.literal(fp+".value", lit)
			} else {
				cf.Value = c.template(fp+".value", f.Value)
			}
			out.JSONFields = append(out.JSONFields, cf)
		}
	case ContentForm:
		if b.Text != "" {
			c.problems.Add(path+".text", "is for text/plain bodies; a form body has fields")
		}
		if len(b.Fields) > MaxBodyFields {
			c.problems.Add(path+".fields", "at most %d fields", MaxBodyFields)
		}
		for i, f := range b.Fields {
			fp := problem.Join(path, "fields", i)
			if f.Key == "" {
				c.problems.Add(fp+".key", "is required")
			}
			if f.Type != "" && f.Type != string(render.TypeString) {
				c.problems.Add(fp+".type", "form values are text: leave type out (it is for application/json bodies)")
			}
			out.FormFields = append(out.FormFields, CompiledBodyField{Key: f.Key, Value: c.template(fp+".value", f.Value)})
		}
	case "":
		c.problems.Add(path+".contentType", "is required: %s", contentTypes)
	default:
		c.problems.Add(path+".contentType", "must be %s", contentTypes)
	}
}

const contentTypes = ContentText + ", " + ContentJSON + " or " + ContentForm

// jsonLiteral reports whether a json field's value is a JSON literal: the
// value, without the spaces around it, is one JSON object or array. Such a
// value was never a valid template (a '{' opens an expression, and no
// expression is `"key": value`; an empty "{}" is an empty expression), so
// the rule takes no meaning away. Anything else is a template: {expr}
// inserts a value, and a string value is read as JSON when the field is
// rendered.
func jsonLiteral(v string) (string, bool) {
	t := strings.Trim(v, " \t\r\n")
	if t == "" || t[0] != '{' && t[0] != '[' || !json.Valid([]byte(t)) {
		return "", false
	}
	return t, true
}

// literal checks a JSON literal and warns when it holds what looks like a
// template expression: a literal is sent as written.
func (c *compiler) literal(path, lit string) []byte {
	if len(lit) > MaxTemplateLength {
		c.problems.Add(path, "must be at most %d bytes", MaxTemplateLength)
		return nil
	}
	for _, root := range []string{render.RootRecord, render.RootFields, render.RootPrevious, render.RootTrigger, render.RootRun, render.RootSecrets} {
		if i := strings.Index(lit, "{"+root+"."); i >= 0 {
			c.warnings.Add(path, "is a JSON literal, sent as written: the %q at position %d is text, not an expression (to build JSON from values, write one expression, such as { {\"name\": record.name} })", "{"+root+".", i)
			break
		}
	}
	return []byte(lit)
}

var bodyTypes = []render.FieldType{"string", "number", "boolean", "json"}

func (c *compiler) response(path string, r *Response, out *CallAPI) {
	out.Response.Type = ResponseNone
	if r == nil {
		return
	}
	if r.Type == "" {
		r.Type = ResponseNone
	}
	out.Response.Type = r.Type
	fields := map[string]bool{}
	switch r.Type {
	case ResponseNone:
		if r.Field != "" {
			c.problems.Add(path+".type", "is none, so field captures nothing: choose text")
		}
	case ResponseText:
		if !record.ValidKey(r.Field) {
			c.problems.Add(path+".field", "is required: the automation field that receives the body (a letter, then letters, digits, '_')")
		}
		out.Response.Field = r.Field
		fields[r.Field] = true
	case ResponseJSON:
		if r.Field != "" {
			c.problems.Add(path+".field", "is for text responses; a json response maps values with schema")
		}
	default:
		c.problems.Add(path+".type", "must be none, text or json")
		return
	}
	if len(r.Schema) > MaxSchema {
		c.problems.Add(path+".schema", "at most %d mappings", MaxSchema)
	}
	for i, m := range r.Schema {
		mp := problem.Join(path, "schema", i)
		cm := CompiledMapping{Field: m.Field, Required: m.Required}
		switch {
		case m.Status && (m.Header != "" || m.Pointer != ""), m.Header != "" && m.Pointer != "":
			c.problems.Add(mp, "takes one of pointer, header and status")
		case m.Status:
			cm.Status = true
		case m.Header != "":
			if !validHeaderName(m.Header) {
				c.problems.Add(mp+".header", "%q is not a valid header name", m.Header)
			}
			cm.Header = textproto.CanonicalMIMEHeaderKey(m.Header)
		case r.Type != ResponseJSON:
			c.problems.Add(mp+".pointer", "reads a JSON body, so it needs a json response (a %s response captures headers and the status)", r.Type)
		default:
			p, err := jsonpointer.Parse(m.Pointer)
			if err != nil {
				c.problems.Add(mp+".pointer", "%v", err)
			}
			cm.Pointer = p
		}
		switch {
		case !record.ValidKey(m.Field):
			c.problems.Add(mp+".field", "must start with a letter and hold only letters, digits and underscores")
		case fields[m.Field]:
			c.problems.Add(mp+".field", "duplicate field %q", m.Field)
		}
		fields[m.Field] = true
		out.Response.Schema = append(out.Response.Schema, cm)
	}
}

func (c *compiler) updateRecord(path string, s *StepSpec) *UpdateRecord {
	for _, o := range []struct {
		name string
		set  bool
	}{
		{"method", s.Method != ""}, {"url", s.URL != ""}, {"headers", len(s.Headers) > 0}, {"body", s.Body != nil},
		{"timeoutSeconds", s.TimeoutSeconds != 0}, {"maxAttempts", s.MaxAttempts != 0}, {"response", s.Response != nil},
		{"auth", s.Auth != nil}, {"maxPerSecond", s.MaxPerSecond != 0},
		{"keepBodyOnRedirect", s.KeepBodyOnRedirect},
	} {
		if o.set {
			c.problems.Add(path+"."+o.name, "is not an option of update_record")
		}
	}
	out := &UpdateRecord{ID: s.ID}
	switch {
	case len(s.Set) == 0:
		c.problems.Add(path+".set", "at least one field to set is required")
	case len(s.Set) > MaxAssignments:
		c.problems.Add(path+".set", "at most %d fields", MaxAssignments)
	}
	seen := map[string]bool{}
	for i, a := range s.Set {
		ap := problem.Join(path, "set", i)
		var typ record.FieldType
		switch {
		case a.Field == "":
			c.problems.Add(ap+".field", "is required")
		case seen[a.Field]:
			c.problems.Add(ap+".field", "field %q is set twice", a.Field)
		case a.Field == "stage":
			if c.coll != nil && len(c.coll.Stages) == 0 {
				c.problems.Add(ap+".field", "collection %q has no stages", c.coll.Key)
			}
		case c.coll != nil:
			f, ok := c.coll.Field(a.Field)
			if !ok {
				c.problems.Add(ap+".field", "collection %q has no field %q", c.coll.Key, a.Field)
			}
			typ = f.Type
		}
		seen[a.Field] = true
		t := c.template(ap+".value", a.Value)
		if t != nil && t.Uses("secrets") {
			// A record is shown to everyone who can see the collection, and
			// its values are not redacted: secrets stay in requests.
			c.problems.Add(ap+".value", "a record field cannot be set from secrets: secret values only go into requests")
		}
		out.Set = append(out.Set, CompiledAssignment{Field: a.Field, Type: typ, Value: t})
	}
	return out
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 section 5.1).
func validHeaderName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(ch)) {
			return false
		}
	}
	return true
}

// exprProblem records a compile error of the text at path, with its
// position in the text.
func (c *compiler) exprProblem(path string, err error) {
	var re *render.Error
	if errors.As(err, &re) {
		c.problems.AddAt(path, re.Pos, "%s", re.Msg)
		return
	}
	c.problems.Add(path, "%v", err)
}
