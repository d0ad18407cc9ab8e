package template_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/template"
)

// fuzzData is template data shaped as the worker builds it.
func fuzzData(payloadJSON string) map[string]any {
	var payload map[string]any
	_ = json.Unmarshal([]byte(payloadJSON), &payload)
	return template.Data(payload, template.Subscriber{SubscriberID: "ada", FirstName: "Ada", Data: map[string]any{"team": "core"}})
}

// FuzzRender: any source and payload render without panicking, to either
// an error or an output (never both); a source without "{{" renders as
// itself; a source Validate accepts is also accepted by Render's compiler.
func FuzzRender(f *testing.F) {
	for _, s := range [][2]string{
		{"Hi {{subscriber.firstName}}: {{comment}}", `{"comment":"ok"}`},
		{"{{#each items}}{{this.name}},{{/each}}", `{"items":[{"name":"a"},{"name":"b"}]}`},
		{"{{#if flag}}yes{{else}}no{{/if}}", `{"flag":true}`},
		{"{{#with author}}{{name}}{{/with}}", `{"author":{"name":"Grace"}}`},
		{"{{{raw}}} {{lookup items 0}}", `{"raw":"<b>","items":[1]}`},
		{"{{> partial}}", `{}`}, {"{{#each}}", `{}`}, {"{{", `{}`}, {"}}{{/if}}", `{}`},
		{"{{unknownHelper a b c}}", `{"a":1}`}, {"{{#each 5}}{{/each}}", `{}`},
		{"plain text", `null`}, {"{{subscriber.data.team}}", `[]`},
	} {
		f.Add(s[0], s[1])
	}
	eng := template.NewEngine(100)
	f.Fuzz(func(t *testing.T, src, payload string) {
		out, err := eng.Render(src, fuzzData(payload))
		if err != nil && out != "" {
			t.Fatalf("Render returned both output %q and error %v", out, err)
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
		if !strings.Contains(src, "{{") && (err != nil || out != src) {
			t.Fatalf("a source without {{ must render as itself: %q → %q, %v", src, out, err)
		}
		if verr := eng.Validate(src, nil); verr != nil && err == nil && strings.Contains(src, "{{") {
			t.Fatalf("Validate refuses %q (%v) but Render accepts it", src, verr)
		}
	})
}

// FuzzRenderJSON: any document and payload render without panicking; on
// success the output is valid JSON; invalid JSON input is an error; a
// document Validate accepts as blocks renders to an array.
func FuzzRenderJSON(f *testing.F) {
	for _, s := range [][2]string{
		{`[{"type":"section","text":{"type":"mrkdwn","text":"*{{title}}* by {{author.name}}"}}]`, `{"title":"T","author":{"name":"G"}}`},
		{`{"blocks":[{"type":"header","text":{"type":"plain_text","text":"{{x}}"}}],"n":1.5e300}`, `{"x":"\"quoted\" <tag> \\ back"}`},
		{`["{{#each a}}{{this}}{{/each}}", 1, null, true, {"k":"{{k}}"}]`, `{"a":[1,2],"k":"\u0000"}`},
		{`"{{x}}"`, `{"x":"y"}`}, {`[`, `{}`}, {`{"a":"{{"}`, `{}`}, {`[] []`, `{}`}, {``, `{}`},
		{`[1e999]`, `{}`}, {`{"k":"\ud800"}`, `{}`},
	} {
		f.Add([]byte(s[0]), s[1])
	}
	eng := template.NewEngine(100)
	f.Fuzz(func(t *testing.T, doc []byte, payload string) {
		out, err := eng.RenderJSON(doc, fuzzData(payload))
		if err != nil {
			if out != nil {
				t.Fatalf("RenderJSON returned both output and error %v", err)
			}
			return
		}
		if strings.TrimSpace(string(doc)) == "" {
			if out != nil {
				t.Fatalf("empty document rendered to %q", out)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("output is not valid JSON: %q (from %q)", out, doc)
		}
		if eng.Validate("", doc) == nil {
			var arr []json.RawMessage
			if json.Unmarshal(out, &arr) != nil {
				t.Fatalf("blocks Validate accepts rendered to a non-array: %q", out)
			}
		}
	})
}
