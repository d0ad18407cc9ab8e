package blockkit_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/blockkit"
)

// FuzzValidateInvariants: any payload is checked without panicking, the same way
// twice; every violation names a path and a problem; a payload that is not
// JSON is a violation; an object without blocks has none; and wrapping a
// bare array of blocks in {"blocks": …} changes nothing.
func FuzzValidateInvariants(f *testing.F) {
	for _, s := range []string{
		`{"text":"hi"}`,
		`{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"*x*"},"fields":[{"type":"plain_text","text":"a"}]}]}`,
		`[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", 151) + `"}}]`,
		`[{"type":"context","elements":[{"type":"image","image_url":"https://x/y.png","alt_text":"a"}]}]`,
		`[{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"Go"},"url":"https://x"}]}]`,
		`[{"type":"image","image_url":"https://x","alt_text":""},{"type":"divider","block_id":""}]`,
		`[{"type":"nope"},1,null,"s",[]]`, `{"blocks":{}}`, `{"blocks":null}`, `[]`, `3`, `"s"`, `{`, ``,
		`[{"type":"section"}]`, `[{"type":"rich_text","elements":[]}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		vs := blockkit.Validate(payload)
		if again := blockkit.Validate(payload); !reflect.DeepEqual(vs, again) {
			t.Fatalf("not deterministic: %v then %v", vs, again)
		}
		for _, v := range vs {
			if v.Path == "" || v.Message == "" {
				t.Fatalf("violation without path or message: %+v", v)
			}
		}
		if len(blockkit.Messages(vs)) != len(vs) {
			t.Fatal("Messages lost violations")
		}
		var root any
		if json.Unmarshal(payload, &root) != nil {
			if len(vs) == 0 {
				t.Fatalf("invalid JSON passed: %q", payload)
			}
			return
		}
		switch r := root.(type) {
		case map[string]any:
			if b, ok := r["blocks"]; (!ok || b == nil) && len(vs) > 0 {
				t.Fatalf("an object without blocks has violations: %v", vs)
			}
		case []any:
			wrapped, _ := json.Marshal(map[string]any{"blocks": json.RawMessage(payload)})
			if w := blockkit.Validate(wrapped); !reflect.DeepEqual(w, vs) {
				t.Fatalf("bare array %v, wrapped %v", vs, w)
			}
		default:
			if len(vs) == 0 {
				t.Fatalf("a payload that is neither object nor array passed: %q", payload)
			}
		}
	})
}
