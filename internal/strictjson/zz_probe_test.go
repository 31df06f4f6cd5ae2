package strictjson

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

type probeItem struct {
	N  int
	U  uint8 `json:"u"`
	F  float64 `json:"f"`
}
type probe struct {
	Items []probeItem `json:"items"`
	At    *time.Time  `json:"at"`
	T     time.Time   `json:"t"`
	Num   json.Number `json:"num"`
	B     []byte      `json:"b"`
	S     string      `json:"s"`
}

func TestProbe(t *testing.T) {
	for _, in := range []string{
		"{\n  \"a\": x\n}", "{} {}", "{} x", "{}}", "", "  ", "{\"s\":\"é\" x}", "{\n\"s\": 1,\n", "[1,,2]",
		`{"items":[{"u":-1}]}`, `{"items":[{"u":300}]}`, `{"items":[{},{"f":1e400}]}`,
		`{"at":"x"}`, `{"t":5}`, `{"num":5}`, `{"b":"aGk="}`, `{"items":[{"N":1.0}]}`, `{"items":[{"n":1}]}`,
		"{\"s\":\"a\"}\n\n  ", "nul", "\"abc",
	} {
		var p probe
		err := Decode([]byte(in), &p)
		fmt.Printf("%q => %T %v\n", in, err, err)
	}
}
