package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/herald/heraldtest"
)

func chatWorkflow(name string, content string) map[string]any {
	return map[string]any{
		"name": name,
		"steps": []any{map[string]any{
			"name":     "slack",
			"template": map[string]any{"type": "chat", "content": content, "blocks": []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*{{title}}*"}}}},
		}},
	}
}

func TestWorkflowCRUD(t *testing.T) {
	e := heraldtest.New(t)
	created := e.Request("POST", "/v1/workflows", chatWorkflow("New Comment!", "Hi {{subscriber.firstName}}: {{comment}}")).Must(t, http.StatusCreated)
	w := created.Data().(map[string]any)
	id := w["_id"].(string)
	trig := w["triggers"].([]any)[0].(map[string]any)
	if trig["identifier"] != "new-comment" || w["active"] != true {
		t.Fatalf("created: %s", created.Body)
	}
	step := w["steps"].([]any)[0].(map[string]any)
	tpl := step["template"].(map[string]any)
	if tpl["type"] != "chat" || tpl["content"] != "Hi {{subscriber.firstName}}: {{comment}}" || tpl["blocks"] == nil || step["_id"] == "" {
		t.Fatalf("step: %s", created.Body)
	}

	t.Run("duplicate identifier is 409", func(t *testing.T) {
		r := e.Request("POST", "/v1/workflows", chatWorkflow("new comment", "x")).Must(t, http.StatusConflict)
		if !strings.Contains(r.JSON()["message"].(string), "new-comment") {
			t.Fatalf("%s", r.Body)
		}
	})
	t.Run("alias path and explicit identifier", func(t *testing.T) {
		body := chatWorkflow("Other", "x")
		body["triggers"] = []any{map[string]any{"identifier": "other-id"}}
		r := e.Request("POST", "/v1/notification-templates", body).Must(t, http.StatusCreated)
		if r.Data().(map[string]any)["triggers"].([]any)[0].(map[string]any)["identifier"] != "other-id" {
			t.Fatalf("%s", r.Body)
		}
	})
	t.Run("get and list", func(t *testing.T) {
		g := e.Request("GET", "/v1/workflows/"+id, nil).Must(t, http.StatusOK)
		if g.Data().(map[string]any)["name"] != "New Comment!" {
			t.Fatalf("%s", g.Body)
		}
		l := e.Request("GET", "/v1/notification-templates?page=0&limit=1", nil).Must(t, http.StatusOK).JSON()
		if l["totalCount"] != float64(2) || l["pageSize"] != float64(1) || l["hasMore"] != true || len(l["data"].([]any)) != 1 {
			t.Fatalf("list: %v", l)
		}
	})
	t.Run("update keeps step id", func(t *testing.T) {
		upd := map[string]any{"name": "Renamed", "steps": []any{map[string]any{"_id": step["_id"], "template": map[string]any{"type": "chat", "content": "New {{x}}"}}}}
		r := e.Request("PUT", "/v1/workflows/"+id, upd).Must(t, http.StatusOK)
		d := r.Data().(map[string]any)
		s0 := d["steps"].([]any)[0].(map[string]any)
		if d["name"] != "Renamed" || s0["_id"] != step["_id"] || s0["template"].(map[string]any)["content"] != "New {{x}}" ||
			d["triggers"].([]any)[0].(map[string]any)["identifier"] != "new-comment" {
			t.Fatalf("%s", r.Body)
		}
		if r := e.Request("PUT", "/v1/workflows/"+id, map[string]any{"identifier": "other-id"}); r.Status != http.StatusConflict {
			t.Fatalf("status %d: %s\n%s", r.Status, r.Body, e.Logs.String())
		}
	})
	t.Run("status", func(t *testing.T) {
		r := e.Request("PUT", "/v1/workflows/"+id+"/status", map[string]any{"active": false}).Must(t, http.StatusOK)
		if r.Data().(map[string]any)["active"] != false {
			t.Fatalf("%s", r.Body)
		}
		e.Request("PUT", "/v1/workflows/"+id+"/status", map[string]any{}).Must(t, http.StatusBadRequest)
	})
	t.Run("delete", func(t *testing.T) {
		e.Request("DELETE", "/v1/workflows/"+id, nil).Must(t, http.StatusOK)
		e.Request("GET", "/v1/workflows/"+id, nil).Must(t, http.StatusNotFound)
		e.Request("DELETE", "/v1/workflows/"+id, nil).Must(t, http.StatusNotFound)
		e.Request("GET", "/v1/workflows/nope", nil).Must(t, http.StatusNotFound)
	})
}

func TestWorkflowValidation(t *testing.T) {
	e := heraldtest.New(t)
	cases := []struct {
		name string
		body any
		want string
	}{
		{"bad content template", chatWorkflow("a", "Hi {{name"), "steps[0].template.content"},
		{"bad blocks template", map[string]any{"name": "b", "steps": []any{map[string]any{"template": map[string]any{"type": "chat", "content": "ok", "blocks": []any{map[string]any{"text": "{{#if x}}"}}}}}}, "steps[0].template.blocks"},
		{"blocks not an array", map[string]any{"name": "c", "steps": []any{map[string]any{"template": map[string]any{"type": "chat", "content": "ok", "blocks": map[string]any{}}}}}, "array"},
		{"missing name", map[string]any{"steps": []any{}}, "name should not be empty"},
		{"email step", map[string]any{"name": "d", "steps": []any{map[string]any{"template": map[string]any{"type": "email", "content": "x"}}}}, "template.type"},
		{"empty content", map[string]any{"name": "e", "steps": []any{map[string]any{"template": map[string]any{"type": "chat", "content": ""}}}}, "content should not be empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.Request("POST", "/v1/workflows", tc.body).Must(t, http.StatusBadRequest)
			if !strings.Contains(string(r.Body), tc.want) {
				t.Fatalf("want %q in %s", tc.want, r.Body)
			}
		})
	}
}

func chatStep(content string, extra map[string]any) map[string]any {
	s := map[string]any{"template": map[string]any{"type": "chat", "content": content}}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

func sectionBlocks(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "x"}}
	}
	return out
}

func TestWorkflowStepValidation(t *testing.T) {
	e := heraldtest.New(t)
	group := func(children ...any) []any {
		return []any{map[string]any{"isNegated": false, "type": "GROUP", "value": "AND", "children": children}}
	}
	cond := func(field, op string, value any) map[string]any {
		return map[string]any{"on": "payload", "field": field, "operator": op, "value": value}
	}
	cases := []struct {
		name  string
		steps []any
		want  string
	}{
		{"unknown operator", []any{chatStep("x", map[string]any{"filters": group(cond("a", "GREATER", "1"))})}, "steps[0].filters[0].children[0].operator must be one of"},
		{"LARGER needs a number", []any{chatStep("x", map[string]any{"filters": group(cond("a", "LARGER", "ten"))})}, "must be a number for LARGER"},
		{"bad on", []any{chatStep("x", map[string]any{"filters": group(map[string]any{"on": "webhook", "field": "a", "operator": "EQUAL", "value": "1"})})}, "on must be payload or subscriber"},
		{"filters not groups", []any{chatStep("x", map[string]any{"filters": map[string]any{"on": "payload"}})}, "steps[0].filters must be an array of filter groups"},
		{"bad group value", []any{chatStep("x", map[string]any{"filters": []any{map[string]any{"type": "GROUP", "value": "XOR", "children": []any{}}}})}, "value must be AND or OR"},
		{"51 blocks", []any{map[string]any{"template": map[string]any{"type": "chat", "content": "x", "blocks": sectionBlocks(51)}}}, "steps[0].template.blocks has 51 blocks; Slack allows 50"},
		{"section text too long", []any{map[string]any{"template": map[string]any{"type": "chat", "content": "x", "blocks": []any{
			map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": strings.Repeat("a", 3001)}}}}}}, "steps[0].template.blocks[0].text.text is 3001 characters; Slack allows 3000"},
		{"delay without metadata", []any{map[string]any{"template": map[string]any{"type": "delay"}}}, "steps[0].metadata is required"},
		{"delay bad unit", []any{map[string]any{"template": map[string]any{"type": "delay"}, "metadata": map[string]any{"amount": 2, "unit": "fortnights", "type": "regular"}}}, "steps[0].metadata.unit must be one of"},
		{"delay bad amount", []any{map[string]any{"template": map[string]any{"type": "delay"}, "metadata": map[string]any{"amount": 1.5, "unit": "seconds"}}}, "metadata.amount must be a positive integer"},
		{"scheduled without path", []any{map[string]any{"template": map[string]any{"type": "delay"}, "metadata": map[string]any{"type": "scheduled"}}}, "delayPath should not be empty"},
		{"two digests", []any{
			map[string]any{"template": map[string]any{"type": "digest"}, "metadata": map[string]any{"amount": 1, "unit": "minutes"}},
			map[string]any{"template": map[string]any{"type": "digest"}, "metadata": map[string]any{"amount": 1, "unit": "minutes"}},
		}, "at most one digest step"},
		{"digest backoff", []any{map[string]any{"template": map[string]any{"type": "digest"}, "metadata": map[string]any{"amount": 1, "unit": "minutes", "type": "backoff"}}}, "backoff digests are not supported"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.Request("POST", "/v1/workflows", map[string]any{"name": "w" + strings.Repeat("x", i), "steps": tc.steps}).Must(t, http.StatusBadRequest)
			if !strings.Contains(string(r.Body), tc.want) {
				t.Fatalf("want %q in %s", tc.want, r.Body)
			}
		})
	}

	t.Run("valid steps round-trip", func(t *testing.T) {
		body := map[string]any{"name": "ok", "steps": []any{
			chatStep("first", map[string]any{"filters": []any{map[string]any{"isNegated": true, "type": "GROUP", "value": "OR", "children": []any{
				cond("n", "BETWEEN", []any{1, 5}), cond("tier", "IN", "gold,silver"), map[string]any{"on": "subscriber", "field": "data.plan", "operator": "IS_DEFINED", "value": true}}}}}),
			map[string]any{"template": map[string]any{"type": "delay"}, "metadata": map[string]any{"amount": "2", "unit": "seconds", "type": "regular"}},
			map[string]any{"template": map[string]any{"type": "digest"}, "metadata": map[string]any{"amount": 1, "unit": "minutes", "digestKey": "postId"}},
			map[string]any{"template": map[string]any{"type": "chat", "content": "x", "blocks": sectionBlocks(50)}, "integrationIdentifier": "team-b"},
		}}
		r := e.Request("POST", "/v1/workflows", body).Must(t, http.StatusCreated)
		steps := r.Data().(map[string]any)["steps"].([]any)
		delay := steps[1].(map[string]any)
		md := delay["metadata"].(map[string]any)
		if md["amount"] != float64(2) || md["unit"] != "seconds" || delay["name"] != "Delay step 2" {
			t.Fatalf("delay: %v", delay)
		}
		if steps[2].(map[string]any)["metadata"].(map[string]any)["digestKey"] != "postId" {
			t.Fatalf("digest: %v", steps[2])
		}
		f := steps[0].(map[string]any)["filters"].([]any)[0].(map[string]any)
		if f["isNegated"] != true || len(f["children"].([]any)) != 3 {
			t.Fatalf("filters: %v", f)
		}
		if steps[3].(map[string]any)["integrationIdentifier"] != "team-b" {
			t.Fatalf("pin: %v", steps[3])
		}
	})
}
