package server_test

// End-to-end tests of Call API without bent data (issue 10): numbers with
// every digit from API input and responses to requests, records and
// history; empty and oversize responses; the seed's JSON literal; form
// bodies; a signature over the body; status and header capture. Each
// against a loopback receiver, checked in what it received, in the stored
// records (through the API) and in history.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
)

const bigID = "12345678901234567891" // a float64 reads it as 12345678901234567000

// orders has a text and a number field for every value written back.
var orders = map[string]any{
	"key": "orders", "name": "Orders",
	"fields": []map[string]any{
		{"key": "name", "type": "text"}, {"key": "value", "type": "number"},
		{"key": "extText", "type": "text"}, {"key": "extNum", "type": "number"},
		{"key": "total", "type": "number"}, {"key": "items", "type": "json"},
	},
}

// exact decodes a JSON answer with numbers as json.Number, their text as
// the server wrote it.
func exact(t *testing.T, data []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}

// getExact GETs an API path and decodes the answer with exact.
func (nd *node) getExact(path string) map[string]any {
	nd.t.Helper()
	return exact(nd.t, nd.Must(nd.t, 200, "GET", path, nil, nil).Body)
}

// TestExactNumbers: a 20-digit number sent to the API and a 20-digit id
// answered by a receiver keep every digit in requests (JSON number and
// string, path, query, header), in record fields of type text and number,
// and in history; record_updated sees a change in the 20th digit and no
// change in 1500 written as 1500.0.
func TestExactNumbers(t *testing.T) { eachDB(t, testExactNumbers) }

func testExactNumbers(t *testing.T, db func(*server.Config)) {
	nd := startNode(t, db)
	crm := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/create") {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"data":{"id":`+bigID+`,"amount":1500.10,"tags":[99999999999999999999]}}`)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	updates := servertest.NewReceiver(t, nil)
	nd.must(201, "POST", "/api/v1/collections", orders, nil)
	var create, changed map[string]any
	nd.must(201, "POST", "/api/v1/automations", map[string]any{
		"name": "create", "collection": "orders", "trigger": map[string]any{"type": "record_added"},
		"condition": "record.value > 1000",
		"steps": []any{
			map[string]any{"id": "create", "type": "call_api", "method": "POST", "url": crm.URL + "/create",
				"body": map[string]any{"contentType": "application/json", "fields": []any{
					map[string]any{"key": "value", "type": "number", "value": "{record.value}"},
					map[string]any{"key": "valueText", "type": "string", "value": "{record.value}"},
				}},
				"response": map[string]any{"type": "json", "schema": []any{
					map[string]any{"pointer": "/data/id", "field": "extId", "required": true},
					map[string]any{"pointer": "/data/amount", "field": "amount"},
					map[string]any{"pointer": "/data", "field": "data"},
				}}},
			map[string]any{"id": "save", "type": "update_record", "set": []any{
				map[string]any{"field": "extText", "value": "{fields.extId}"},
				map[string]any{"field": "extNum", "value": "{fields.extId}"},
				map[string]any{"field": "total", "value": "{fields.amount}"},
				map[string]any{"field": "items", "value": "{fields.data.tags}"},
			}},
			map[string]any{"id": "confirm", "type": "call_api", "method": "POST",
				"url":     crm.URL + "/confirm/{fields.extId}?id={fields.extId}",
				"headers": []any{map[string]any{"name": "X-Order", "value": "ord-{fields.extId}"}},
				"body": map[string]any{"contentType": "application/json", "fields": []any{
					map[string]any{"key": "id", "type": "number", "value": "{fields.extId}"},
					map[string]any{"key": "idText", "type": "string", "value": "{string(fields.extId)}"},
					map[string]any{"key": "data", "type": "json", "value": "{fields.data}"},
				}}},
		},
	}, &create)
	nd.must(201, "POST", "/api/v1/automations", map[string]any{
		"name": "changed", "collection": "orders", "trigger": map[string]any{"type": "record_updated", "fields": []string{"value"}},
		"steps": []any{map[string]any{"type": "call_api", "url": updates.URL + "/changed/{record.value}"}},
	}, &changed)

	// The number is sent as written: Go would encode a float64.
	rec := exact(t, nd.Must(t, 201, "POST", "/api/v1/collections/orders/records", `{"fields":{"name":"Big","value":`+bigID+`}}`, nil).Body)
	recPath := "/api/v1/collections/orders/records/" + rec["id"].(string)
	if v := rec["fields"].(map[string]any)["value"]; v != json.Number(bigID) {
		t.Errorf("created record value = %v, want %s", v, bigID)
	}

	first := crm.Next(t)
	if want := `{"value":` + bigID + `,"valueText":"` + bigID + `"}`; string(first.Body) != want {
		t.Errorf("first request body = %s, want %s", first.Body, want)
	}
	second := crm.Next(t)
	if want := "/confirm/" + bigID; second.URL.EscapedPath() != want {
		t.Errorf("path = %s, want %s", second.URL.EscapedPath(), want)
	}
	if want := "id=" + bigID; second.URL.RawQuery != want {
		t.Errorf("query = %s, want %s", second.URL.RawQuery, want)
	}
	if want := "ord-" + bigID; second.Header.Get("X-Order") != want {
		t.Errorf("X-Order = %q, want %q", second.Header.Get("X-Order"), want)
	}
	wantBody := `{"id":` + bigID + `,"idText":"` + bigID + `","data":{"amount":1500.10,"id":` + bigID + `,"tags":[99999999999999999999]}}`
	if string(second.Body) != wantBody {
		t.Errorf("second request body =\n%s\nwant\n%s", second.Body, wantBody)
	}

	runs := nd.waitRuns(create["id"].(string), 1)
	nd.waitRun(runs[0]["id"].(string), "succeeded")
	run := nd.getExact("/api/v1/runs/" + runs[0]["id"].(string))
	wantFields := map[string]any{
		"extId": json.Number(bigID), "amount": json.Number("1500.10"),
		"data": map[string]any{"id": json.Number(bigID), "amount": json.Number("1500.10"), "tags": []any{json.Number("99999999999999999999")}},
	}
	if d := cmp.Diff(wantFields, run["fields"]); d != "" {
		t.Errorf("run fields (-want +got):\n%s", d)
	}
	got := nd.getExact(recPath)["fields"]
	wantRecord := map[string]any{
		"name": "Big", "value": json.Number(bigID), "extText": bigID, "extNum": json.Number(bigID),
		"total": json.Number("1500.10"), "items": []any{json.Number("99999999999999999999")},
	}
	if d := cmp.Diff(wantRecord, got); d != "" {
		t.Errorf("stored record (-want +got):\n%s", d)
	}

	// The update_record step changed other fields: no run of "changed" yet.
	// A change in the 20th digit is a change; the same number written
	// otherwise is not.
	if n := len(nd.runsOf(changed["id"].(string))); n != 0 {
		t.Fatalf("changed has %d runs before value changed, want 0", n)
	}
	nd.Must(t, 200, "PATCH", recPath, `{"fields":{"value":12345678901234567892}}`, nil)
	nd.Must(t, 200, "PATCH", recPath, `{"fields":{"value":1234567890123456789.2e1}}`, nil) // the same value
	nd.waitRuns(changed["id"].(string), 1)
	if want := "/changed/12345678901234567892"; updates.Next(t).URL.EscapedPath() != want {
		t.Errorf("record_updated request path, want %s", want)
	}
	if v := nd.getExact(recPath)["fields"].(map[string]any)["value"]; v != json.Number("12345678901234567892") {
		t.Errorf("value after the PATCH that changes nothing = %v, want the text of the first PATCH", v)
	}
}

// TestEmptyAndOversizeResponses: a 204 or an empty 200 to a json response
// captures null for optional pointers and fails a required one with class
// response; a 2 MiB text or JSON body (limit 1 MiB) fails with class
// response, once (it is not retried), saying so.
func TestEmptyAndOversizeResponses(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 2<<20)
	rc := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/empty":
			w.Header().Set("Content-Type", "application/json")
		case "/big-text":
			io.WriteString(w, big)
		case "/big-json":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"`+big+`"}`)
		}
	})
	nd := flNode(t)
	call := func(path string, response map[string]any) map[string]any {
		return map[string]any{"id": "call", "type": "call_api", "url": rc.URL + path, "maxAttempts": 3, "response": response}
	}
	optional := map[string]any{"type": "json", "schema": []any{
		map[string]any{"pointer": "/id", "field": "id"},
		map[string]any{"status": true, "field": "httpStatus"},
	}}
	required := map[string]any{"type": "json", "schema": []any{map[string]any{"pointer": "/id", "field": "id", "required": true}}}
	tests := []struct {
		name     string
		step     map[string]any
		status   string
		fields   map[string]any
		class    string
		message  string
		attempts int
	}{
		{"204, optional pointer", call("/204", optional), "succeeded", map[string]any{"id": nil, "httpStatus": 204.0}, "", "", 1},
		{"200 without a body, optional pointer", call("/empty", optional), "succeeded", map[string]any{"id": nil, "httpStatus": 200.0}, "", "", 1},
		{"204, required pointer", call("/204", required), "failed", map[string]any{}, "response", "required pointer /id resolves to nothing: the response has no body (status 204)", 1},
		{"2 MiB of text", call("/big-text", map[string]any{"type": "text", "field": "reply"}), "failed", map[string]any{}, "response", "response body exceeds 1048576 bytes", 1},
		{"2 MiB of JSON", call("/big-json", required), "failed", map[string]any{}, "response", "response body exceeds 1048576 bytes", 1},
	}
	watches := make([]*watch, len(tests))
	for i, tt := range tests {
		id := manualAutomation(nd, tt.name, tt.step)
		watches[i] = watchRun(nd.Base, startManualRun(nd, id, map[string]any{"name": tt.name}), 30*time.Second)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := watches[i].wait(t)
			if run.Status != tt.status {
				t.Fatalf("status = %s (%v), want %s", run.Status, run.Error, tt.status)
			}
			if d := cmp.Diff(tt.fields, run.Fields); d != "" {
				t.Errorf("fields (-want +got):\n%s", d)
			}
			atts := run.Steps[0].Attempts
			if len(atts) != tt.attempts {
				t.Errorf("attempts = %d, want %d", len(atts), tt.attempts)
			}
			last := atts[len(atts)-1]
			switch {
			case tt.class == "" && last.Error != nil:
				t.Errorf("attempt error = %v, want none", last.Error)
			case tt.class != "" && (last.Error == nil || last.Error.Class != tt.class || !strings.Contains(last.Error.Message, tt.message)):
				t.Errorf("attempt error = %+v, want class %s with %q", last.Error, tt.class, tt.message)
			}
		})
	}
}

// TestRequestForms: the seed's example body arrives byte-equal (its json
// field a literal, as written); a form body decodes on the receiver; a
// header computed with hmacSHA256(secrets.K, body) verifies against the
// bytes received; the status and Location are captured for a json and a
// text response and written into the record.
func TestRequestForms(t *testing.T) {
	t.Parallel()
	const key = "k3y-for-signing-bodies"
	type received struct {
		path, sig, contentType string
		body                   []byte
		form                   map[string][]string
	}
	got := make(chan received, 4)
	rc := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rv := received{path: r.URL.Path, sig: r.Header.Get("X-Signature"), contentType: r.Header.Get("Content-Type"), body: body}
		if r.URL.Path == "/form" {
			r.Body = io.NopCloser(bytes.NewReader(body))
			if err := r.ParseForm(); err != nil {
				t.Errorf("receiver: parse form %q: %v", body, err)
			}
			rv.form = r.PostForm
		}
		got <- rv
		switch r.URL.Path {
		case "/seed":
			w.Header().Set("Location", "/orders/ord-77")
			w.Header().Add("Location", "/ignored-second-value")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"ok":true}`)
		default:
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, "queued")
		}
	})
	nd := startNode(t)
	nd.must(201, "POST", "/api/v1/collections", orders, nil)
	nd.must(204, "PUT", "/api/v1/secrets/K", map[string]any{"value": key}, nil)
	seedItems := "[\n{ \"sku\": \"WIDGET-001\", \"quantity\": 10 }\n]"
	var a map[string]any
	nd.must(201, "POST", "/api/v1/automations", map[string]any{
		"name": "forms", "collection": "orders", "trigger": map[string]any{"type": "manual"},
		"steps": []any{
			map[string]any{"id": "seed", "type": "call_api", "method": "POST", "url": rc.URL + "/seed",
				"headers": []any{map[string]any{"name": "X-Signature", "value": "sha256={hmacSHA256(secrets.K, body)}"}},
				"body": map[string]any{"contentType": "application/json", "fields": []any{
					map[string]any{"key": "customerName", "type": "string", "value": "Acme Corporation"},
					map[string]any{"key": "contactEmail", "type": "string", "value": "john@acme.com"},
					map[string]any{"key": "orderValue", "type": "number", "value": "1500.00"},
					map[string]any{"key": "isNewCustomer", "type": "boolean", "value": "true"},
					map[string]any{"key": "orderItems", "type": "json", "value": seedItems},
				}},
				"response": map[string]any{"type": "json", "schema": []any{
					map[string]any{"header": "Location", "field": "location", "required": true},
					map[string]any{"status": true, "field": "httpStatus"},
				}}},
			map[string]any{"id": "form", "type": "call_api", "method": "POST", "url": rc.URL + "/form",
				"body": map[string]any{"contentType": "application/x-www-form-urlencoded", "fields": []any{
					map[string]any{"key": "name", "value": "{record.name}"},
					map[string]any{"key": "note", "value": "a&b=c d+e"},
					map[string]any{"key": "tag", "value": "x"},
					map[string]any{"key": "tag", "value": "y"},
					map[string]any{"key": "location", "value": "{fields.location}"},
				}},
				"response": map[string]any{"type": "text", "field": "reply", "schema": []any{map[string]any{"status": true, "field": "formStatus"}}}},
			map[string]any{"id": "save", "type": "update_record", "set": []any{
				map[string]any{"field": "extText", "value": "{fields.location}"},
				map[string]any{"field": "extNum", "value": "{fields.httpStatus}"},
				map[string]any{"field": "total", "value": "{fields.formStatus}"},
			}},
		},
	}, &a)
	if w := a["warnings"].([]any); len(w) != 0 {
		t.Errorf("warnings = %v, want none", w)
	}
	var rec, started map[string]any
	nd.must(201, "POST", "/api/v1/collections/orders/records", map[string]any{"fields": map[string]any{"name": "Zoë & Co"}}, &rec)
	nd.must(202, "POST", "/api/v1/automations/"+a["id"].(string)+"/runs", map[string]any{"recordId": rec["id"]}, &started)
	runID := started["id"].(string)

	seed := <-got
	wantSeed := `{"customerName":"Acme Corporation","contactEmail":"john@acme.com","orderValue":1500.00,"isNewCustomer":true,"orderItems":` + seedItems + `}`
	if string(seed.body) != wantSeed {
		t.Errorf("seed body =\n%s\nwant\n%s", seed.body, wantSeed)
	}
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(seed.body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(seed.sig), []byte(want)) {
		t.Errorf("X-Signature = %q, want %q (HMAC-SHA256 of the body received)", seed.sig, want)
	}
	form := <-got
	if form.contentType != "application/x-www-form-urlencoded" {
		t.Errorf("form Content-Type = %q", form.contentType)
	}
	wantForm := map[string][]string{"name": {"Zoë & Co"}, "note": {"a&b=c d+e"}, "tag": {"x", "y"}, "location": {"/orders/ord-77"}}
	if d := cmp.Diff(wantForm, form.form); d != "" {
		t.Errorf("form decoded by the receiver (-want +got):\n%s\nbody %s", d, form.body)
	}

	run := nd.waitRun(runID, "succeeded")
	wantFields := map[string]any{"location": "/orders/ord-77", "httpStatus": 201.0, "reply": "queued", "formStatus": 202.0}
	if d := cmp.Diff(wantFields, run["fields"]); d != "" {
		t.Errorf("run fields (-want +got):\n%s", d)
	}
	var recs struct{ Items []map[string]any }
	nd.must(200, "GET", "/api/v1/collections/orders/records", nil, &recs)
	if d := cmp.Diff(map[string]any{"name": "Zoë & Co", "extText": "/orders/ord-77", "extNum": 201.0, "total": 202.0}, recs.Items[0]["fields"]); d != "" {
		t.Errorf("record (-want +got):\n%s", d)
	}
	hist := readRun(nd, runID)
	sent := hist.Steps[0].Attempts[0].Request
	if sent.Body != wantSeed {
		t.Errorf("history body = %s, want the body as sent", sent.Body)
	}
	if strings.Contains(sent.Headers["X-Signature"], hex.EncodeToString(mac.Sum(nil))) {
		t.Errorf("history shows the signature computed from a secret: %q", sent.Headers["X-Signature"])
	}
}
