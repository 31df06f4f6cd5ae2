package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// fuzzEndpoints are the endpoints FuzzAPIInput sends its bodies to: the
// collection and record decoders, and the automation decoder and compiler
// (save, replace, dry run).
var fuzzEndpoints = []struct{ method, path string }{
	{"POST", "/api/v1/collections"},
	{"POST", "/api/v1/collections/leads/records"},
	{"POST", "/api/v1/automations"},
	{"PUT", "/api/v1/automations/{automation}"},
	{"POST", "/api/v1/automations/test"},
	{"POST", "/api/v1/import?dryRun=true"},
}

// maxFuzzBody bounds one fuzz input.
const maxFuzzBody = 64 << 10

// codeOf is the error code each error status must carry.
var codeOf = map[int]string{
	http.StatusBadRequest:            "bad_request",
	http.StatusNotFound:              "not_found",
	http.StatusConflict:              "conflict",
	http.StatusRequestEntityTooLarge: "too_large",
	http.StatusUnprocessableEntity:   "validation_failed",
}

// FuzzAPIInput sends arbitrary bodies with a valid key to the endpoints
// that decode collections, records and automation documents and compile
// automations. Whatever the body, the answer is a success or the error
// envelope with a 4xx status: never a 5xx, never a panic. The corpus is
// seeded with valid documents and every hostile case of TestHostileInput.
func FuzzAPIInput(f *testing.F) {
	// The API is built once per fuzzing process: one database, one
	// collection "leads", one automation and one record.
	fx := newFixture(f, "", noLimit)
	paths := make([]string, len(fuzzEndpoints))
	for i, ep := range fuzzEndpoints {
		paths[i] = hostileCase{path: ep.path}.resolve(fx)
	}

	dryRun := func(doc string) string {
		return `{"automation":` + doc + `,"record":{"fields":{"name":"Ada","value":2000,"items":[1,2]}}}`
	}
	seeds := map[int][]string{
		0: {leadsCollection, `{"key":"deals","name":"Deals","fields":[{"key":"due","type":"date"},{"key":"at","type":"datetime"},{"key":"ok","type":"boolean"}],"stages":["Open","Closed"]}`},
		1: {`{"fields":{"name":"Ada","value":1500,"items":[{"sku":"W-1","quantity":10}]},"stage":"New"}`, `{"fields":{"name":null,"value":-0.5e3},"version":1}`},
		2: {validAutomation, manualAutomation,
			`{"name":"Updated","collection":"leads","trigger":{"type":"record_updated","fields":["name"]},"steps":[{"type":"call_api","url":"https://a.example/{record.id}?v={record.value}#f","response":{"type":"text","field":"reply"}}]}`,
			`{"name":"Stage","collection":"leads","enabled":false,"trigger":{"type":"stage_changed","from":"New","to":"Won"},"steps":[{"type":"call_api","method":"PUT","url":"https://a.example/","body":{"contentType":"text/plain","text":"{{literal}} {record.name}"}}]}`,
			`{"name":"Signed","collection":"leads","trigger":{"type":"record_added"},"signing":{"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},"steps":[{"type":"call_api","url":"https://a.example/"}]}`,
		},
		3: {validAutomation, manualAutomation},
		4: {dryRun(validAutomation), dryRun(manualAutomation), `{"automation":` + manualAutomation + `,"recordId":"` + fx.recordID + `"}`},
		5: {`{"formatVersion":1,"collections":[` + leadsCollection + `],"automations":[` + validAutomation + `,` + manualAutomation + `]}`, `{}`},
	}
	for i, docs := range seeds {
		for _, d := range docs {
			f.Add(uint8(i), []byte(d))
		}
	}
	for _, c := range hostileCases {
		for i, ep := range fuzzEndpoints {
			if c.method == ep.method && c.resolve(fx) == paths[i] && len(c.body) <= maxFuzzBody {
				f.Add(uint8(i), []byte(c.body))
			}
		}
	}

	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		if len(body) > maxFuzzBody {
			return
		}
		i := int(which) % len(fuzzEndpoints)
		if i == 4 && sendsRequests(body) {
			return // a dry run with "send": true would reach the network
		}
		a := send(t, fx.h, "Bearer "+fx.admin, fuzzEndpoints[i].method, paths[i], bytes.NewReader(body))
		if a.status >= 500 {
			t.Fatalf("%s %s: status %d for %q: %s", fuzzEndpoints[i].method, paths[i], a.status, body, a.body)
		}
		if ct := a.header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("status %d with Content-Type %q: %s", a.status, ct, a.body)
		}
		if a.status < 300 {
			var v map[string]any
			if err := json.Unmarshal(a.body, &v); err != nil || v["error"] != nil {
				t.Fatalf("status %d: not a JSON document (%v): %s", a.status, err, a.body)
			}
			// Delete what was created, so that the database stays small:
			// every record would otherwise fire every automation the
			// fuzzer ever saved.
			del := ""
			switch i {
			case 0:
				del = "/api/v1/collections/" + url.PathEscape(str(v["key"]))
			case 1:
				del = "/api/v1/collections/leads/records/" + url.PathEscape(str(v["id"]))
			case 2:
				del = "/api/v1/automations/" + url.PathEscape(str(v["id"]))
			}
			if del != "" {
				if d := send(t, fx.h, "Bearer "+fx.admin, "DELETE", del, nil); d.status != 204 && d.status != 409 {
					t.Fatalf("DELETE %s after %s %s: %d %s", del, fuzzEndpoints[i].method, paths[i], d.status, d.body)
				}
			}
			return
		}
		want, ok := codeOf[a.status]
		if !ok {
			t.Fatalf("unexpected status %d: %s", a.status, a.body)
		}
		var env envelope
		if err := json.Unmarshal(a.body, &env); err != nil || env.Error == nil {
			t.Fatalf("status %d: not the error envelope (%v): %s", a.status, err, a.body)
		}
		if env.Error.Code != want || env.Error.Message == "" {
			t.Fatalf("status %d: code %q, message %q; want code %q and a message", a.status, env.Error.Code, env.Error.Message, want)
		}
	})
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// sendsRequests reports whether a dry-run body asks to really send: the
// decoder takes "send" only as that exact key, once unescaped.
func sendsRequests(body []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	s, ok := m["send"]
	return ok && string(bytes.TrimSpace(s)) == "true"
}
