package template

import (
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestRender(t *testing.T) {
	e := NewEngine(100)
	data := Data(map[string]any{"postId": 42, "user": map[string]any{"name": "Ada"}, "step": "ignored"},
		Subscriber{SubscriberID: "s1", FirstName: "Grace"})
	cases := []struct{ src, want string }{
		{"plain", "plain"},
		{"Post {{postId}} by {{user.name}}", "Post 42 by Ada"},
		{"Hi {{subscriber.firstName}} ({{subscriber.subscriberId}})", "Hi Grace (s1)"},
		{"{{#if postId}}yes{{/if}}", "yes"},
		{"[{{step}}]", "[]"},
	}
	for _, tc := range cases {
		got, err := e.Render(tc.src, data)
		if err != nil || got != tc.want {
			t.Errorf("Render(%q) = %q, %v; want %q", tc.src, got, err, tc.want)
		}
	}
}

func TestRenderJSONKeepsStructure(t *testing.T) {
	e := NewEngine(100)
	blocks := json.RawMessage(`[{"type":"section","text":{"type":"mrkdwn","text":"*{{title}}* for {{subscriber.firstName}}"},"n":3}]`)
	out, err := e.RenderJSON(blocks, Data(map[string]any{"title": "Deploy <ok>"}, Subscriber{FirstName: "Ada"}))
	if err != nil {
		t.Fatal(err)
	}
	var v []map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	if got := v[0]["text"].(map[string]any)["text"]; got != "*Deploy &lt;ok&gt;* for Ada" {
		t.Fatalf("text %q (%s)", got, out)
	}
	if v[0]["n"] != float64(3) || v[0]["type"] != "section" {
		t.Fatalf("structure changed: %s", out)
	}
}

func TestValidate(t *testing.T) {
	e := NewEngine(100)
	cases := []struct {
		name    string
		content string
		blocks  string
		ok      bool
	}{
		{"fine", "Hello {{name}}", `[{"type":"section","text":{"type":"plain_text","text":"{{name}}"}}]`, true},
		{"no blocks", "Hello", "", true},
		{"unclosed content", "Hello {{name", "", false},
		{"bad block helper", "ok", `[{"text":"{{#if x}}"}]`, false},
		{"blocks not array", "ok", `{"type":"section"}`, false},
		{"blocks not json", "ok", `[{`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := e.Validate(tc.content, json.RawMessage(tc.blocks))
			if (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
