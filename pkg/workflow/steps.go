package workflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/pkg/blockkit"
	"github.com/heraldhq/herald/pkg/filter"
)

// Step types besides chat.
const (
	StepTypeDelay  = "delay"
	StepTypeDigest = "digest"
)

// Delay types: a fixed amount of time, or until a date read from the payload.
const (
	DelayRegular   = "regular"
	DelayScheduled = "scheduled"
)

// Units of a delay or digest window, as Novu names them.
var Units = []string{"seconds", "minutes", "hours", "days", "weeks", "months"}

// MaxWait bounds a delay or digest window.
const MaxWait = 366 * 24 * time.Hour

// Metadata configures a delay or digest step (Novu's step metadata).
type Metadata struct {
	Amount    int    `bson:"amount,omitempty"`
	Unit      string `bson:"unit,omitempty"`
	Type      string `bson:"type,omitempty"`
	DelayPath string `bson:"delayPath,omitempty"`
	DigestKey string `bson:"digestKey,omitempty"`
}

// After returns t plus Amount Units (calendar arithmetic for days and up).
func (m Metadata) After(t time.Time) time.Time {
	n := m.Amount
	switch m.Unit {
	case "seconds":
		return t.Add(time.Duration(n) * time.Second)
	case "minutes":
		return t.Add(time.Duration(n) * time.Minute)
	case "hours":
		return t.Add(time.Duration(n) * time.Hour)
	case "days":
		return t.AddDate(0, 0, n)
	case "weeks":
		return t.AddDate(0, 0, 7*n)
	case "months":
		return t.AddDate(0, n, 0)
	}
	return t
}

// Kind is the step's type: chat, delay or digest.
func (s Step) Kind() string { return s.Template.Type }

// ParseFilters decodes the step's filters (Novu's shape); none is nil.
func (s Step) ParseFilters() ([]filter.Filter, error) {
	if strings.TrimSpace(s.Filters) == "" {
		return nil, nil
	}
	var fs []filter.Filter
	if err := json.Unmarshal([]byte(s.Filters), &fs); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, fmt.Errorf("filters: %s must not be a JSON %s", te.Field, te.Value)
		}
		return nil, errors.New("filters must be an array of filter groups {isNegated, type, value, children}")
	}
	return fs, nil
}

func validateWait(at string, m Metadata) []string {
	var problems []string
	if m.Amount <= 0 {
		problems = append(problems, at+".metadata.amount must be a positive integer")
	}
	if !slices.Contains(Units, m.Unit) {
		problems = append(problems, fmt.Sprintf("%s.metadata.unit must be one of %s, got %q", at, strings.Join(Units, ", "), m.Unit))
	}
	if len(problems) == 0 {
		now := time.Now()
		if m.After(now).Sub(now) > MaxWait {
			problems = append(problems, at+".metadata: the wait may be at most 366 days")
		}
	}
	return problems
}

// validateStep checks a non-template part of step i: its filters, its
// delay or digest settings and (chat) its blocks against Block Kit's limits.
func validateStep(i int, s Step) []string {
	at := fmt.Sprintf("steps[%d]", i)
	var problems []string
	fs, err := s.ParseFilters()
	if err != nil {
		problems = append(problems, at+"."+err.Error())
	} else {
		for _, p := range filter.Validate(fs) {
			problems = append(problems, at+"."+p)
		}
		if len(fs) > 0 && s.Kind() != StepTypeChat {
			problems = append(problems, at+".filters are supported on chat steps only")
		}
	}
	switch s.Kind() {
	case StepTypeChat:
		if s.Template.Blocks != "" {
			for _, v := range blockkit.Validate([]byte(s.Template.Blocks)) {
				problems = append(problems, at+".template."+v.String())
			}
		}
	case StepTypeDelay:
		m := s.Metadata
		if m == nil {
			return append(problems, at+".metadata is required for a delay step: {amount, unit, type:\"regular\"} or {type:\"scheduled\", delayPath}")
		}
		switch m.Type {
		case "", DelayRegular:
			problems = append(problems, validateWait(at, *m)...)
		case DelayScheduled:
			if strings.TrimSpace(m.DelayPath) == "" {
				problems = append(problems, at+".metadata.delayPath should not be empty for a scheduled delay")
			}
		default:
			problems = append(problems, fmt.Sprintf("%s.metadata.type must be regular or scheduled, got %q", at, m.Type))
		}
	case StepTypeDigest:
		m := s.Metadata
		if m == nil {
			return append(problems, at+".metadata is required for a digest step: {amount, unit, digestKey?}")
		}
		if m.Type != "" && m.Type != DelayRegular {
			problems = append(problems, fmt.Sprintf("%s.metadata.type must be regular (backoff digests are not supported), got %q", at, m.Type))
		}
		problems = append(problems, validateWait(at, *m)...)
	}
	return problems
}

// DigestIndex returns the index of the digest step among steps, or -1.
func DigestIndex(steps []Step) int {
	for i, s := range steps {
		if s.Kind() == StepTypeDigest {
			return i
		}
	}
	return -1
}
