package filter_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/filter"
)

func data(t *testing.T) filter.Data {
	t.Helper()
	var d struct {
		Payload    map[string]any `json:"payload"`
		Subscriber map[string]any `json:"subscriber"`
	}
	raw := `{
		"payload": {"tier": "Gold", "amount": 120, "count": "7", "region": "eu-west", "tags": ["a", "b"],
			"order": {"id": "o-1", "items": [{"sku": "x1"}]}, "nothing": null, "flag": true},
		"subscriber": {"firstName": "Ada", "locale": "en-GB", "data": {"plan": "pro", "seats": 5}}
	}`
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatal(err)
	}
	return filter.Data{Payload: d.Payload, Subscriber: d.Subscriber}
}

func one(on, field, op string, value any) []filter.Filter {
	return []filter.Filter{{Type: "GROUP", Value: "AND", Children: []filter.Condition{{On: on, Field: field, Operator: op, Value: value}}}}
}

func TestOperators(t *testing.T) {
	d := data(t)
	cases := []struct {
		name, on, field, op string
		value               any
		want                bool
	}{
		{"equal string", "payload", "tier", "EQUAL", "Gold", true},
		{"equal is case-sensitive", "payload", "tier", "EQUAL", "gold", false},
		{"equal number vs string", "payload", "amount", "EQUAL", "120", true},
		{"equal numeric forms", "payload", "amount", "EQUAL", "120.0", true},
		{"equal string number vs number", "payload", "count", "EQUAL", 7.0, true},
		{"equal bool", "payload", "flag", "EQUAL", "true", true},
		{"equal missing", "payload", "nope", "EQUAL", "x", false},
		{"not equal", "payload", "tier", "NOT_EQUAL", "Silver", true},
		{"not equal same", "payload", "tier", "NOT_EQUAL", "Gold", false},
		{"not equal missing passes", "payload", "nope", "NOT_EQUAL", "x", true},
		{"larger", "payload", "amount", "LARGER", "100", true},
		{"larger equal bound", "payload", "amount", "LARGER", 120.0, false},
		{"larger numeric not lexical", "payload", "count", "LARGER", "10", false},
		{"larger on text", "payload", "tier", "LARGER", "1", false},
		{"larger missing", "payload", "nope", "LARGER", "1", false},
		{"smaller", "payload", "count", "SMALLER", "10", true},
		{"smaller false", "payload", "amount", "SMALLER", "100", false},
		{"larger_equal", "payload", "amount", "LARGER_EQUAL", "120", true},
		{"larger_equal false", "payload", "amount", "LARGER_EQUAL", "121", false},
		{"smaller_equal", "payload", "amount", "SMALLER_EQUAL", "120", true},
		{"smaller_equal false", "payload", "amount", "SMALLER_EQUAL", "119.5", false},
		{"in list", "payload", "tier", "IN", []any{"Silver", "Gold"}, true},
		{"in comma string", "payload", "tier", "IN", "Silver, Gold", true},
		{"in numbers", "payload", "amount", "IN", "100,120", true},
		{"in absent", "payload", "tier", "IN", []any{"Silver"}, false},
		{"in with list actual", "payload", "tags", "IN", "b,c", true},
		{"in missing", "payload", "nope", "IN", "a", false},
		{"not in", "payload", "tier", "NOT_IN", "Silver,Bronze", true},
		{"not in present", "payload", "tier", "NOT_IN", []any{"Gold"}, false},
		{"not in missing passes", "payload", "nope", "NOT_IN", "a", true},
		{"between", "payload", "amount", "BETWEEN", []any{100.0, 200.0}, true},
		{"between inclusive", "payload", "amount", "BETWEEN", []any{"120", "130"}, true},
		{"between outside", "payload", "amount", "BETWEEN", []any{1.0, 10.0}, false},
		{"between text actual", "payload", "tier", "BETWEEN", []any{1.0, 10.0}, false},
		{"between missing", "payload", "nope", "BETWEEN", []any{1.0, 10.0}, false},
		{"like substring any case", "payload", "region", "LIKE", "WEST", true},
		{"like no match", "payload", "region", "LIKE", "us-", false},
		{"like missing", "payload", "nope", "LIKE", "a", false},
		{"not like", "payload", "region", "NOT_LIKE", "us-", true},
		{"not like match", "payload", "region", "NOT_LIKE", "Eu", false},
		{"not like missing passes", "payload", "nope", "NOT_LIKE", "a", true},
		{"is defined", "payload", "tier", "IS_DEFINED", "", true},
		{"is defined null", "payload", "nothing", "IS_DEFINED", nil, true},
		{"is defined missing", "payload", "nope", "IS_DEFINED", "", false},
		{"is defined false wants missing", "payload", "nope", "IS_DEFINED", "false", true},
		{"is defined false on present", "payload", "tier", "IS_DEFINED", false, false},
		{"nested payload", "payload", "order.id", "EQUAL", "o-1", true},
		{"nested list index", "payload", "order.items.0.sku", "EQUAL", "x1", true},
		{"nested index out of range", "payload", "order.items.3.sku", "IS_DEFINED", "", false},
		{"nested through scalar", "payload", "tier.x", "IS_DEFINED", "", false},
		{"subscriber field", "subscriber", "firstName", "EQUAL", "Ada", true},
		{"subscriber data", "subscriber", "data.seats", "LARGER", "4", true},
		{"subscriber missing", "subscriber", "lastName", "IS_DEFINED", "", false},
		{"payload key not read from subscriber", "subscriber", "tier", "IS_DEFINED", "", false},
		{"unknown operator fails", "payload", "tier", "MATCHES", "Gold", false},
		{"unknown source fails", "webhook", "tier", "EQUAL", "Gold", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, res := filter.Evaluate(one(tc.on, tc.field, tc.op, tc.value), d)
			if got != tc.want || res.Passed != got {
				t.Fatalf("%s.%s %s %v = %v (result %+v), want %v", tc.on, tc.field, tc.op, tc.value, got, res, tc.want)
			}
		})
	}
}

func TestGroups(t *testing.T) {
	d := data(t)
	yes := filter.Condition{On: "payload", Field: "tier", Operator: "EQUAL", Value: "Gold"}
	no := filter.Condition{On: "payload", Field: "tier", Operator: "EQUAL", Value: "Silver"}
	group := func(v string, neg bool, cs ...filter.Condition) filter.Filter {
		return filter.Filter{Type: "GROUP", Value: v, IsNegated: neg, Children: cs}
	}
	cases := []struct {
		name    string
		filters []filter.Filter
		want    bool
	}{
		{"no filters", nil, true},
		{"empty group", []filter.Filter{group("AND", false)}, true},
		{"and all true", []filter.Filter{group("AND", false, yes, yes)}, true},
		{"and one false", []filter.Filter{group("AND", false, yes, no)}, false},
		{"or one true", []filter.Filter{group("OR", false, no, yes)}, true},
		{"or all false", []filter.Filter{group("OR", false, no, no)}, false},
		{"or lowercase", []filter.Filter{group("or", false, no, yes)}, true},
		{"negated and", []filter.Filter{group("AND", true, yes, no)}, true},
		{"negated or", []filter.Filter{group("OR", true, yes)}, false},
		{"top-level filters combine with AND", []filter.Filter{group("OR", false, yes), group("OR", false, no)}, false},
		{"top-level all pass", []filter.Filter{group("OR", false, yes, no), group("AND", false, yes)}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, res := filter.Evaluate(tc.filters, d)
			if got != tc.want {
				t.Fatalf("got %v, want %v: %+v", got, tc.want, res)
			}
			if len(res.Filters) != len(tc.filters) {
				t.Fatalf("%d filter results for %d filters", len(res.Filters), len(tc.filters))
			}
		})
	}
}

func TestResultExplains(t *testing.T) {
	f := []filter.Filter{{Type: "GROUP", Value: "AND", Children: []filter.Condition{
		{On: "payload", Field: "amount", Operator: "LARGER", Value: "10"},
		{On: "subscriber", Field: "data.plan", Operator: "EQUAL", Value: "enterprise"},
		{On: "payload", Field: "missing", Operator: "EQUAL", Value: "x"},
	}}}
	ok, res := filter.Evaluate(f, data(t))
	if ok {
		t.Fatal("passed")
	}
	cs := res.Filters[0].Conditions
	if !cs[0].Passed || cs[1].Passed || cs[1].Actual != "pro" || !cs[1].Defined || cs[2].Defined || cs[2].Passed {
		t.Fatalf("conditions: %+v", cs)
	}
	s := res.String()
	for _, want := range []string{"subscriber.data.plan EQUAL enterprise (actual pro)", "payload.missing EQUAL x (actual undefined)"} {
		if !strings.Contains(s, want) {
			t.Errorf("%q lacks %q", s, want)
		}
	}
	if _, err := json.Marshal(res); err != nil {
		t.Fatalf("result is not JSON: %v", err)
	}
}

func TestValidate(t *testing.T) {
	cond := func(on, field, op string, v any) filter.Condition {
		return filter.Condition{On: on, Field: field, Operator: op, Value: v}
	}
	cases := []struct {
		name string
		f    []filter.Filter
		want []string
	}{
		{"valid", []filter.Filter{{Type: "GROUP", Value: "OR", Children: []filter.Condition{
			cond("payload", "a.b", "EQUAL", "x"), cond("subscriber", "data.n", "BETWEEN", []any{1.0, "2"}),
			cond("payload", "t", "IN", "a,b"), cond("payload", "n", "LARGER", "3"), cond("payload", "d", "IS_DEFINED", nil),
		}}}, nil},
		{"bad group", []filter.Filter{{Type: "STATEMENT", Value: "XOR"}}, []string{
			`filters[0].type must be GROUP, got "STATEMENT"`, `filters[0].value must be AND or OR, got "XOR"`}},
		{"bad conditions", []filter.Filter{{Value: "AND", Children: []filter.Condition{
			cond("webhook", "", "EQUAL", "x"),
			cond("payload", "a..b", "LARGER", "ten"),
			cond("payload", "a", "BETWEEN", []any{1.0}),
			cond("payload", "a", "IN", ""),
			cond("payload", "a", "NOPE", "x"),
			cond("payload", "a", "EQUAL", map[string]any{}),
		}}}, []string{
			`filters[0].children[0].on must be payload or subscriber, got "webhook"`,
			"filters[0].children[0].field should not be empty",
			`filters[0].children[1].field "a..b" is not a dotted path such as a.b`,
			"filters[0].children[1].value must be a number for LARGER, got ten",
			"filters[0].children[2].value must be a list of two numbers [min, max] for BETWEEN, got [1]",
			"filters[0].children[3].value must be a non-empty list or comma-separated string for IN",
			`filters[0].children[4].operator must be one of EQUAL, NOT_EQUAL, LARGER, SMALLER, LARGER_EQUAL, SMALLER_EQUAL, IN, NOT_IN, BETWEEN, LIKE, NOT_LIKE, IS_DEFINED, got "NOPE"`,
			"filters[0].children[5].value must be a string, number or boolean for EQUAL",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := filter.Validate(tc.f); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestNovuJSONShape(t *testing.T) {
	raw := `[{"isNegated":false,"type":"GROUP","value":"AND","children":[{"on":"payload","field":"tier","value":"Gold","operator":"EQUAL"}]}]`
	var fs []filter.Filter
	if err := json.Unmarshal([]byte(raw), &fs); err != nil {
		t.Fatal(err)
	}
	if p := filter.Validate(fs); len(p) != 0 {
		t.Fatal(p)
	}
	if ok, _ := filter.Evaluate(fs, filter.Data{Payload: map[string]any{"tier": "Gold"}}); !ok {
		t.Fatal("did not pass")
	}
}
