package httpapi_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/herald/heraldtest"
)

func strs(v any) []string {
	out := []string{}
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func messages(t *testing.T, r *heraldtest.Response) []string {
	t.Helper()
	msgs, ok := r.JSON()["message"].([]any)
	if !ok {
		t.Fatalf("message is not a list: %s", r.Body)
	}
	out := []string{}
	for _, m := range msgs {
		out = append(out, m.(string))
	}
	return out
}

func TestTopicLifecycle(t *testing.T) {
	e := heraldtest.New(t)
	for _, id := range []string{"ann", "bob", "cid"} {
		e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": id}).Must(t, 201)
	}

	r := e.Request("POST", "/v1/topics", map[string]any{"key": "eng:oncall", "name": "On call"}).Must(t, http.StatusCreated)
	created := r.Data().(map[string]any)
	if created["key"] != "eng:oncall" || len(created["_id"].(string)) != 24 || len(created) != 2 {
		t.Fatalf("create: %s", r.Body)
	}
	r = e.Request("POST", "/v1/topics", map[string]any{"key": "eng:oncall", "name": "again"}).Must(t, http.StatusConflict)
	if r.JSON()["message"] != "Topic exists with key eng:oncall" {
		t.Fatalf("duplicate: %s", r.Body)
	}

	// Add: known ids succeed, unknown ones are reported, duplicates collapse.
	r = e.Request("POST", "/v1/topics/eng:oncall/subscribers", map[string]any{"subscribers": []string{"ann", "ghost", "bob", "ann"}}).Must(t, 200)
	d := r.Data().(map[string]any)
	if got := strs(d["succeeded"]); !reflect.DeepEqual(got, []string{"ann", "bob"}) {
		t.Fatalf("succeeded = %v: %s", got, r.Body)
	}
	if got := strs(d["failed"].(map[string]any)["notFound"]); !reflect.DeepEqual(got, []string{"ghost"}) {
		t.Fatalf("notFound = %v: %s", got, r.Body)
	}
	// Adding again is idempotent.
	e.Request("POST", "/v1/topics/eng:oncall/subscribers", map[string]any{"subscribers": []string{"bob"}}).Must(t, 200)

	r = e.Request("GET", "/v1/topics/eng:oncall", nil).Must(t, 200)
	got := r.Data().(map[string]any)
	if got["_id"] != created["_id"] || got["name"] != "On call" || got["_environmentId"] != e.Environment.ID.Hex() ||
		got["_organizationId"] != e.Environment.OrganizationID.Hex() || !reflect.DeepEqual(strs(got["subscribers"]), []string{"ann", "bob"}) {
		t.Fatalf("get: %s", r.Body)
	}

	r = e.Request("GET", "/v1/topics/eng:oncall/subscribers/ann", nil).Must(t, 200)
	m := r.Data().(map[string]any)
	if m["externalSubscriberId"] != "ann" || m["topicKey"] != "eng:oncall" || m["_topicId"] != created["_id"] || len(m["_subscriberId"].(string)) != 24 {
		t.Fatalf("member: %s", r.Body)
	}
	r = e.Request("GET", "/v1/topics/eng:oncall/subscribers/cid", nil).Must(t, 404)
	if r.JSON()["message"] != "Subscriber cid not found in topic eng:oncall" {
		t.Fatalf("non-member: %s", r.Body)
	}
	e.Request("GET", "/v1/topics/nope/subscribers/ann", nil).Must(t, 404)

	r = e.Request("PATCH", "/v1/topics/eng:oncall", map[string]any{"name": "Engineering on call"}).Must(t, 200)
	if d := r.Data().(map[string]any); d["name"] != "Engineering on call" || d["key"] != "eng:oncall" || len(strs(d["subscribers"])) != 2 {
		t.Fatalf("rename: %s", r.Body)
	}

	// Delete is refused while members remain.
	r = e.Request("DELETE", "/v1/topics/eng:oncall", nil).Must(t, http.StatusConflict)
	if !strings.Contains(r.JSON()["message"].(string), "Topic with key eng:oncall still has subscribers") {
		t.Fatalf("delete with members: %s", r.Body)
	}
	r = e.Request("POST", "/v1/topics/eng:oncall/subscribers/removal", map[string]any{"subscribers": []string{"ann", "bob", "never-a-member"}}).Must(t, http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Fatalf("removal body: %s", r.Body)
	}
	e.Request("GET", "/v1/topics/eng:oncall/subscribers/ann", nil).Must(t, 404)
	r = e.Request("DELETE", "/v1/topics/eng:oncall", nil).Must(t, http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Fatalf("delete body: %s", r.Body)
	}
	r = e.Request("GET", "/v1/topics/eng:oncall", nil).Must(t, 404)
	if r.JSON()["message"] != "Topic not found for id eng:oncall in the environment "+e.Environment.ID.Hex() {
		t.Fatalf("get deleted: %s", r.Body)
	}
}

func TestTopicNotFound(t *testing.T) {
	e := heraldtest.New(t)
	cases := []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/topics/missing", nil},
		{"PATCH", "/v1/topics/missing", map[string]any{"name": "x"}},
		{"DELETE", "/v1/topics/missing", nil},
		{"POST", "/v1/topics/missing/subscribers/removal", map[string]any{"subscribers": []string{"a"}}},
		{"GET", "/v1/topics/missing/subscribers/a", nil},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.Request(tc.method, tc.path, tc.body).Must(t, 404)
			if !strings.HasPrefix(r.JSON()["message"].(string), "Topic not found for id missing") {
				t.Fatalf("%s", r.Body)
			}
		})
	}
}

func TestTopicAddAutoCreates(t *testing.T) {
	e := heraldtest.New(t)
	e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": "ann"}).Must(t, 201)
	r := e.Request("POST", "/v1/topics/fresh/subscribers", map[string]any{"subscribers": []string{"ann"}}).Must(t, 200)
	if d := r.Data().(map[string]any); !reflect.DeepEqual(strs(d["succeeded"]), []string{"ann"}) || len(strs(d["failed"].(map[string]any)["notFound"])) != 0 {
		t.Fatalf("add: %s", r.Body)
	}
	r = e.Request("GET", "/v1/topics/fresh", nil).Must(t, 200)
	if d := r.Data().(map[string]any); d["name"] != "fresh" || !reflect.DeepEqual(strs(d["subscribers"]), []string{"ann"}) {
		t.Fatalf("auto-created topic: %s", r.Body)
	}
	// Only unknown ids: the topic is still created, nothing succeeds.
	r = e.Request("POST", "/v1/topics/empty/subscribers", map[string]any{"subscribers": []string{"x", "y"}}).Must(t, 200)
	if d := r.Data().(map[string]any); len(strs(d["succeeded"])) != 0 || !reflect.DeepEqual(strs(d["failed"].(map[string]any)["notFound"]), []string{"x", "y"}) {
		t.Fatalf("unknown only: %s", r.Body)
	}
	r = e.Request("GET", "/v1/topics/empty", nil).Must(t, 200)
	if d := r.Data().(map[string]any); len(strs(d["subscribers"])) != 0 {
		t.Fatalf("empty topic: %s", r.Body)
	}
	e.Request("DELETE", "/v1/topics/empty", nil).Must(t, 204)
}

func TestTopicValidation(t *testing.T) {
	e := heraldtest.New(t)
	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprint("s", i)
	}
	cases := []struct {
		name, method, path string
		body               any
		want               []string
	}{
		{"create without fields", "POST", "/v1/topics", map[string]any{}, []string{"key should not be empty", "name should not be empty"}},
		{"create long key", "POST", "/v1/topics", map[string]any{"key": strings.Repeat("k", 101), "name": "n"}, []string{"key must be shorter than or equal to 100 characters"}},
		{"create bad key", "POST", "/v1/topics", map[string]any{"key": "a b/c", "name": "n"}, []string{"key must contain only letters, digits and the characters _ . : -"}},
		{"rename without name", "PATCH", "/v1/topics/t", map[string]any{}, []string{"name should not be empty"}},
		{"add nothing", "POST", "/v1/topics/t/subscribers", map[string]any{"subscribers": []string{}}, []string{"subscribers must contain at least 1 element"}},
		{"add missing list", "POST", "/v1/topics/t/subscribers", map[string]any{}, []string{"subscribers must contain at least 1 element"}},
		{"add too many", "POST", "/v1/topics/t/subscribers", map[string]any{"subscribers": many}, []string{"subscribers must contain no more than 1000 elements"}},
		{"add empty id and bad key", "POST", "/v1/topics/bad%20key/subscribers", map[string]any{"subscribers": []string{"a", ""}},
			[]string{"key must contain only letters, digits and the characters _ . : -", "subscribers[1] should not be empty"}},
		{"remove nothing", "POST", "/v1/topics/t/subscribers/removal", map[string]any{"subscribers": []string{}}, []string{"subscribers must contain at least 1 element"}},
		{"list bad paging", "GET", "/v1/topics?page=-1&pageSize=500", nil, []string{"page must not be less than 0", "pageSize must be a number from 1 to 100"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.Request(tc.method, tc.path, tc.body).Must(t, 400)
			if got := messages(t, r); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("messages = %q, want %q", got, tc.want)
			}
		})
	}
	r := e.Request("POST", "/v1/topics/t/subscribers", `{"subscribers": "ann"}`).Must(t, 400)
	if !strings.Contains(r.JSON()["message"].(string), "subscribers must be an array") {
		t.Fatalf("%s", r.Body)
	}
	// Nothing was created by the invalid requests.
	r = e.Request("GET", "/v1/topics", nil).Must(t, 200)
	if r.JSON()["totalCount"] != float64(0) {
		t.Fatalf("invalid requests wrote topics: %s", r.Body)
	}
}

func TestTopicList(t *testing.T) {
	e := heraldtest.New(t)
	for i := 0; i < 5; i++ {
		e.Request("POST", "/v1/topics", map[string]any{"key": fmt.Sprintf("t%d", i), "name": fmt.Sprintf("Topic %d", i)}).Must(t, 201)
	}
	r := e.Request("GET", "/v1/topics?page=1&pageSize=2", nil).Must(t, 200)
	var p struct {
		Page, PageSize int
		HasMore        bool
		TotalCount     int
		Data           []map[string]any
	}
	r.Decode(t, &p)
	if p.Page != 1 || p.PageSize != 2 || !p.HasMore || p.TotalCount != 5 || len(p.Data) != 2 || p.Data[0]["key"] != "t2" || p.Data[1]["name"] != "Topic 3" {
		t.Fatalf("page 1: %s", r.Body)
	}
	r = e.Request("GET", "/v1/topics?page=2&pageSize=2", nil).Must(t, 200)
	r.Decode(t, &p)
	if p.HasMore || len(p.Data) != 1 || p.Data[0]["key"] != "t4" {
		t.Fatalf("last page: %s", r.Body)
	}
	r = e.Request("GET", "/v1/topics?key=t3", nil).Must(t, 200)
	r.Decode(t, &p)
	if p.TotalCount != 1 || len(p.Data) != 1 || p.Data[0]["key"] != "t3" || p.PageSize != 10 {
		t.Fatalf("by key: %s", r.Body)
	}
}
