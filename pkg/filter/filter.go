package filter

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Operators a condition can use, as Novu names them.
const (
	Equal        = "EQUAL"
	NotEqual     = "NOT_EQUAL"
	Larger       = "LARGER"
	Smaller      = "SMALLER"
	LargerEqual  = "LARGER_EQUAL"
	SmallerEqual = "SMALLER_EQUAL"
	In           = "IN"
	NotIn        = "NOT_IN"
	Between      = "BETWEEN"
	Like         = "LIKE"
	NotLike      = "NOT_LIKE"
	IsDefined    = "IS_DEFINED"
)

// Sources a condition reads from.
const (
	OnPayload    = "payload"
	OnSubscriber = "subscriber"
)

// Group combinators.
const (
	And = "AND"
	Or  = "OR"
)

var operators = []string{Equal, NotEqual, Larger, Smaller, LargerEqual, SmallerEqual, In, NotIn, Between, Like, NotLike, IsDefined}

// Filter is one group of conditions of a step, in Novu's shape.
type Filter struct {
	IsNegated bool        `json:"isNegated" bson:"isNegated"`
	Type      string      `json:"type" bson:"type"`   // "GROUP"
	Value     string      `json:"value" bson:"value"` // AND or OR
	Children  []Condition `json:"children" bson:"children"`
}

// Condition compares one field of the payload or the subscriber with Value.
type Condition struct {
	On       string `json:"on" bson:"on"`
	Field    string `json:"field" bson:"field"`
	Value    any    `json:"value" bson:"value"`
	Operator string `json:"operator" bson:"operator"`
}

// Data is what conditions are evaluated against.
type Data struct {
	Payload    map[string]any
	Subscriber map[string]any
}

// Result explains an evaluation: whether the step passes and, per filter,
// which conditions held. It is meant for the execution detail of a filtered step.
type Result struct {
	Passed  bool           `json:"passed"`
	Filters []FilterResult `json:"filters"`
}

// FilterResult is the outcome of one filter group.
type FilterResult struct {
	Value      string            `json:"value"`
	IsNegated  bool              `json:"isNegated"`
	Passed     bool              `json:"passed"`
	Conditions []ConditionResult `json:"conditions"`
}

// ConditionResult is the outcome of one condition, with the value found.
type ConditionResult struct {
	On       string `json:"on"`
	Field    string `json:"field"`
	Operator string `json:"operator"`
	Expected any    `json:"expected"`
	Actual   any    `json:"actual"`
	Defined  bool   `json:"defined"`
	Passed   bool   `json:"passed"`
}

// String summarises a result in one line, e.g. for a log or a detail message.
func (r Result) String() string {
	var failed []string
	for _, f := range r.Filters {
		for _, c := range f.Conditions {
			if !c.Passed {
				failed = append(failed, fmt.Sprintf("%s.%s %s %v (actual %v)", c.On, c.Field, c.Operator, c.Expected, describeActual(c)))
			}
		}
	}
	if r.Passed {
		return "filters passed"
	}
	return "filters failed: " + strings.Join(failed, "; ")
}

func describeActual(c ConditionResult) any {
	if !c.Defined {
		return "undefined"
	}
	return c.Actual
}

// Validate returns every problem with a step's filters, each naming its
// place (for example "filters[0].children[1].operator ...").
func Validate(filters []Filter) []string {
	var problems []string
	for i, f := range filters {
		at := fmt.Sprintf("filters[%d]", i)
		if f.Type != "" && f.Type != "GROUP" {
			problems = append(problems, fmt.Sprintf("%s.type must be GROUP, got %q", at, f.Type))
		}
		if v := strings.ToUpper(f.Value); v != And && v != Or {
			problems = append(problems, fmt.Sprintf("%s.value must be AND or OR, got %q", at, f.Value))
		}
		for j, c := range f.Children {
			problems = append(problems, validateCondition(fmt.Sprintf("%s.children[%d]", at, j), c)...)
		}
	}
	return problems
}

func validateCondition(at string, c Condition) []string {
	var problems []string
	if c.On != OnPayload && c.On != OnSubscriber {
		problems = append(problems, fmt.Sprintf("%s.on must be payload or subscriber, got %q", at, c.On))
	}
	if strings.TrimSpace(c.Field) == "" {
		problems = append(problems, at+".field should not be empty")
	} else if strings.HasPrefix(c.Field, ".") || strings.HasSuffix(c.Field, ".") || strings.Contains(c.Field, "..") {
		problems = append(problems, fmt.Sprintf("%s.field %q is not a dotted path such as a.b", at, c.Field))
	}
	switch c.Operator {
	case Larger, Smaller, LargerEqual, SmallerEqual:
		if _, ok := number(c.Value); !ok {
			problems = append(problems, fmt.Sprintf("%s.value must be a number for %s, got %v", at, c.Operator, c.Value))
		}
	case In, NotIn:
		if len(list(c.Value)) == 0 {
			problems = append(problems, fmt.Sprintf("%s.value must be a non-empty list or comma-separated string for %s", at, c.Operator))
		}
	case Between:
		if _, _, ok := bounds(c.Value); !ok {
			problems = append(problems, fmt.Sprintf("%s.value must be a list of two numbers [min, max] for BETWEEN, got %v", at, c.Value))
		}
	case Equal, NotEqual, Like, NotLike:
		if _, ok := scalar(c.Value); !ok {
			problems = append(problems, fmt.Sprintf("%s.value must be a string, number or boolean for %s", at, c.Operator))
		}
	case IsDefined:
	default:
		problems = append(problems, fmt.Sprintf("%s.operator must be one of %s, got %q", at, strings.Join(operators, ", "), c.Operator))
	}
	return problems
}

// Evaluate reports whether data passes every filter (filters combine with
// AND; no filters pass) and explains the outcome. Filters that Validate
// rejects evaluate to false rather than panicking.
func Evaluate(filters []Filter, data Data) (bool, Result) {
	res := Result{Passed: true, Filters: make([]FilterResult, 0, len(filters))}
	for _, f := range filters {
		fr := evalGroup(f, data)
		res.Filters = append(res.Filters, fr)
		res.Passed = res.Passed && fr.Passed
	}
	return res.Passed, res
}

func evalGroup(f Filter, data Data) FilterResult {
	or := strings.EqualFold(f.Value, Or)
	fr := FilterResult{Value: strings.ToUpper(f.Value), IsNegated: f.IsNegated, Conditions: make([]ConditionResult, 0, len(f.Children))}
	passed := !or // AND of nothing is true; OR starts false
	for _, c := range f.Children {
		cr := evalCondition(c, data)
		fr.Conditions = append(fr.Conditions, cr)
		if or {
			passed = passed || cr.Passed
		} else {
			passed = passed && cr.Passed
		}
	}
	if len(f.Children) == 0 {
		passed = true // an empty group does not filter anything out
	}
	fr.Passed = passed != f.IsNegated
	return fr
}

func evalCondition(c Condition, data Data) ConditionResult {
	cr := ConditionResult{On: c.On, Field: c.Field, Operator: c.Operator, Expected: c.Value}
	var src map[string]any
	switch c.On {
	case OnPayload:
		src = data.Payload
	case OnSubscriber:
		src = data.Subscriber
	}
	actual, defined := lookup(src, c.Field)
	cr.Actual, cr.Defined = actual, defined
	cr.Passed = apply(c.Operator, c.Value, actual, defined)
	return cr
}

func apply(op string, want, actual any, defined bool) bool {
	switch op {
	case IsDefined:
		if b, ok := truth(want); ok && !b {
			return !defined
		}
		return defined
	case NotEqual:
		return !defined || !equal(actual, want)
	case NotIn:
		return !defined || !inList(actual, list(want))
	case NotLike:
		return !defined || !like(actual, want)
	}
	if !defined {
		return false
	}
	switch op {
	case Equal:
		return equal(actual, want)
	case In:
		return inList(actual, list(want))
	case Like:
		return like(actual, want)
	case Larger, Smaller, LargerEqual, SmallerEqual:
		a, ok1 := number(actual)
		w, ok2 := number(want)
		if !ok1 || !ok2 {
			return false
		}
		switch op {
		case Larger:
			return a > w
		case Smaller:
			return a < w
		case LargerEqual:
			return a >= w
		default:
			return a <= w
		}
	case Between:
		a, ok := number(actual)
		lo, hi, ok2 := bounds(want)
		return ok && ok2 && a >= lo && a <= hi
	}
	return false
}

// lookup follows a dotted path through maps and (by index) lists.
func lookup(src map[string]any, path string) (any, bool) {
	if src == nil || path == "" {
		return nil, false
	}
	var cur any = src
	for _, part := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[part]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// scalar renders a string, number or boolean as text.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), true
	case int:
		return strconv.Itoa(x), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	}
	return "", false
}

// number reads v as a finite number: a JSON number or a string that parses as one.
func number(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case string:
		p, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, false
		}
		f = p
	case bool, nil:
		return 0, false
	default:
		s, ok := scalar(x)
		if !ok {
			return 0, false
		}
		p, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, false
		}
		f = p
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// equal compares numerically when both sides are numbers, else as text.
func equal(actual, want any) bool {
	if a, ok := number(actual); ok {
		if w, ok := number(want); ok {
			return a == w
		}
	}
	as, ok1 := scalar(actual)
	ws, ok2 := scalar(want)
	return ok1 && ok2 && as == ws
}

// inList reports whether actual (or, for a list, any of its elements) equals an element.
func inList(actual any, items []any) bool {
	if arr, ok := actual.([]any); ok {
		for _, a := range arr {
			if inList(a, items) {
				return true
			}
		}
		return false
	}
	for _, it := range items {
		if equal(actual, it) {
			return true
		}
	}
	return false
}

// list reads a JSON list or a comma-separated string.
func list(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case string:
		var out []any
		for _, p := range strings.Split(x, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	return nil
}

func bounds(v any) (lo, hi float64, ok bool) {
	items := list(v)
	if len(items) != 2 {
		return 0, 0, false
	}
	lo, ok1 := number(items[0])
	hi, ok2 := number(items[1])
	return lo, hi, ok1 && ok2
}

func like(actual, want any) bool {
	as, ok1 := scalar(actual)
	ws, ok2 := scalar(want)
	return ok1 && ok2 && strings.Contains(strings.ToLower(as), strings.ToLower(ws))
}

// truth reads a boolean or "true"/"false".
func truth(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		return b, err == nil
	}
	return false, false
}

// Lookup returns the value at a dotted path in src (a numeric part indexes
// a list) and whether it exists; filters, delay paths and digest keys read
// payload fields this way.
func Lookup(src map[string]any, path string) (any, bool) { return lookup(src, path) }
