package workflow

import (
	"strings"
	"testing"
)

func TestParseFiltersErrors(t *testing.T) {
	for in, want := range map[string]string{
		`{"on":"payload"}`:                        "filters must be an array of filter groups",
		`[{"value":"AND","children":{"a":1}}]`:    "filters: children must not be a JSON object",
		`[{"value":"AND","children":[{"on":5}]}]`: "filters: children.on must not be a JSON number",
		`[]`: "",
	} {
		_, err := Step{Filters: in}.ParseFilters()
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}
