package blockkit_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/blockkit"
)

func text(n int) map[string]any {
	return map[string]any{"type": "mrkdwn", "text": strings.Repeat("é", n)}
}

func section(n int) map[string]any { return map[string]any{"type": "section", "text": text(n)} }

func repeat(n int, v any) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name    string
		payload any
		want    []string
	}{
		{"plain text message", map[string]any{"text": "hi"}, nil},
		{"valid message", map[string]any{"text": "fallback", "blocks": []any{
			map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": strings.Repeat("h", 150)}},
			section(3000),
			map[string]any{"type": "section", "fields": repeat(10, text(2000))},
			map[string]any{"type": "divider", "block_id": strings.Repeat("b", 255)},
			map[string]any{"type": "context", "elements": repeat(10, text(5))},
			map[string]any{"type": "actions", "elements": repeat(25, map[string]any{"type": "button"})},
			map[string]any{"type": "image", "image_url": "https://example.com/a.png", "alt_text": "a"},
			map[string]any{"type": "rich_text", "elements": []any{}},
		}}, nil},
		{"bare array", []any{section(3001)}, []string{"blocks[0].text.text is 3001 characters; Slack allows 3000"}},
		{"too many blocks", map[string]any{"blocks": repeat(51, map[string]any{"type": "divider"})}, []string{"blocks has 51 blocks; Slack allows 50"}},
		{"long section text", map[string]any{"blocks": []any{section(1), section(1), section(1), section(3120)}},
			[]string{"blocks[3].text.text is 3120 characters; Slack allows 3000"}},
		{"long header", map[string]any{"blocks": []any{map[string]any{"type": "header", "text": map[string]any{"type": "mrkdwn", "text": strings.Repeat("h", 151)}}}},
			[]string{"blocks[0].text.text is 151 characters; Slack allows 150", "blocks[0].text.type must be plain_text in a header, got mrkdwn"}},
		{"header without text", []any{map[string]any{"type": "header"}}, []string{"blocks[0].text is missing; a header needs a plain_text text"}},
		{"missing and unknown type", []any{map[string]any{"text": "x"}, map[string]any{"type": "table"}}, []string{
			"blocks[0].type is missing; every block needs a type",
			`blocks[1].type "table" is not a Block Kit block type (known: section, header, divider, context, actions, image, rich_text, input, file, video)`}},
		{"long block id", []any{map[string]any{"type": "divider", "block_id": strings.Repeat("b", 256)}}, []string{"blocks[0].block_id is 256 characters; Slack allows 255"}},
		{"block id not a string", []any{map[string]any{"type": "divider", "block_id": 3}}, []string{"blocks[0].block_id must be a string"}},
		{"fields", []any{map[string]any{"type": "section", "fields": append(repeat(10, text(1)), text(2001))}}, []string{
			"blocks[0].fields has 11 fields; Slack allows 10", "blocks[0].fields[10].text is 2001 characters; Slack allows 2000"}},
		{"empty section", []any{map[string]any{"type": "section"}}, []string{"blocks[0] is a section without text or fields"}},
		{"text not an object", []any{map[string]any{"type": "section", "text": "hi"}}, []string{"blocks[0].text must be a text object {type, text}"}},
		{"context elements", []any{map[string]any{"type": "context", "elements": repeat(11, text(1))}}, []string{"blocks[0].elements has 11 elements; Slack allows 10"}},
		{"context without elements", []any{map[string]any{"type": "context"}}, []string{"blocks[0].elements must be a non-empty array"}},
		{"actions elements", []any{map[string]any{"type": "actions", "elements": repeat(26, map[string]any{"type": "button"})}}, []string{"blocks[0].elements has 26 elements; Slack allows 25"}},
		{"image without url and alt", []any{map[string]any{"type": "image"}}, []string{
			"blocks[0].image_url is missing; an image needs image_url (or slack_file)", "blocks[0].alt_text is missing; an image needs alt_text"}},
		{"image with slack_file", []any{map[string]any{"type": "image", "slack_file": map[string]any{"id": "F1"}, "alt_text": "x"}}, nil},
		{"blocks not an array", map[string]any{"blocks": "nope"}, []string{"blocks must be an array"}},
		{"block not an object", []any{"x"}, []string{"blocks[0] must be an object"}},
		{"scalar payload", 3, []string{"payload must be a JSON object with blocks or an array of blocks"}},
		{"every violation reported", []any{section(3001), map[string]any{"type": "nope"}, map[string]any{"type": "image", "image_url": "u"}}, []string{
			"blocks[0].text.text is 3001 characters; Slack allows 3000",
			`blocks[1].type "nope" is not a Block Kit block type (known: section, header, divider, context, actions, image, rich_text, input, file, video)`,
			"blocks[2].alt_text is missing; an image needs alt_text"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := json.Marshal(tc.payload)
			if err != nil {
				t.Fatal(err)
			}
			got := blockkit.Messages(blockkit.Validate(raw))
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestValidateInvalidJSON(t *testing.T) {
	vs := blockkit.Validate([]byte(`{"blocks": [`))
	if len(vs) != 1 || vs[0].Path != "payload" || !strings.HasPrefix(vs[0].Message, "is not valid JSON") {
		t.Fatalf("%v", vs)
	}
}

func FuzzValidate(f *testing.F) {
	seeds := []string{
		`{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"hi"}}]}`,
		`[{"type":"image"},{"type":"context","elements":[1,2]},{"type":"section","fields":[null,{"text":3}]}]`,
		`{"blocks":null}`, `{"blocks":{}}`, `[[[]]]`, `"x"`, `null`, `{"blocks":[{"type":"header","text":{"text":null}}]}`,
		`{"blocks":[{"type":"section","block_id":{},"text":[],"fields":"x"}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, v := range blockkit.Validate(raw) {
			if v.Path == "" || v.Message == "" {
				t.Fatalf("empty violation %+v for %q", v, raw)
			}
			_ = fmt.Sprint(v)
		}
	})
}
