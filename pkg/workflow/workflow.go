package workflow

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/template"
)

// StepTypeChat is the step type that sends a message (the only channel).
const StepTypeChat = "chat"

// MaxSteps bounds a workflow's steps.
const MaxSteps = 20

// Template is a step's message template. Blocks is a JSON array of Slack
// blocks whose string values are templates; it is stored as JSON text.
type Template struct {
	ID      primitive.ObjectID `bson:"_id"`
	Type    string             `bson:"type"`
	Content string             `bson:"content"`
	Blocks  string             `bson:"blocks,omitempty"`
}

// Step is one step of a workflow.
type Step struct {
	ID       primitive.ObjectID `bson:"_id"`
	Name     string             `bson:"name"`
	Active   bool               `bson:"active"`
	Template Template           `bson:"template"`
	// Filters are Novu's filter groups kept as JSON text; they are checked
	// when the workflow is saved and evaluated per subscriber at fan-out.
	Filters               string    `bson:"filters,omitempty"`
	Metadata              *Metadata `bson:"metadata,omitempty"`
	ProviderID            string    `bson:"providerId,omitempty"`
	IntegrationIdentifier string    `bson:"integrationIdentifier,omitempty"`
}

// Workflow is a notification workflow.
type Workflow struct {
	ID                primitive.ObjectID `bson:"_id"`
	EnvironmentID     primitive.ObjectID `bson:"_environmentId"`
	OrganizationID    primitive.ObjectID `bson:"_organizationId"`
	Name              string             `bson:"name"`
	Description       string             `bson:"description"`
	Active            bool               `bson:"active"`
	Tags              []string           `bson:"tags"`
	TriggerIdentifier string             `bson:"triggerIdentifier"`
	Steps             []Step             `bson:"steps"`
	CreatedAt         time.Time          `bson:"createdAt"`
	UpdatedAt         time.Time          `bson:"updatedAt"`
}

// ActiveSteps returns the active steps in order.
func (w *Workflow) ActiveSteps() []Step {
	var out []Step
	for _, s := range w.Steps {
		if s.Active {
			out = append(out, s)
		}
	}
	return out
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// Slug derives a trigger identifier from a name: "New comment!" → "new-comment".
func Slug(name string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(name), "-"), "-")
}

var identifierRe = regexp.MustCompile(`^[a-zA-Z0-9_.:-]{1,128}$`)

// ValidIdentifier reports whether s may be a trigger identifier.
func ValidIdentifier(s string) bool { return identifierRe.MatchString(s) }

// Validate checks the workflow's fields and compiles every step's templates
// with eng, returning every problem.
func (w *Workflow) Validate(eng *template.Engine) []string {
	var problems []string
	if strings.TrimSpace(w.Name) == "" {
		problems = append(problems, "name should not be empty")
	}
	if !ValidIdentifier(w.TriggerIdentifier) {
		problems = append(problems, "triggers[0].identifier must be 1 to 128 letters, digits, '-', '_', '.' or ':'")
	}
	if len(w.Steps) > MaxSteps {
		problems = append(problems, fmt.Sprintf("steps must contain no more than %d elements", MaxSteps))
	}
	digests := 0
	for i, s := range w.Steps {
		switch s.Template.Type {
		case StepTypeChat:
		case StepTypeDelay, StepTypeDigest:
			if s.Template.Type == StepTypeDigest {
				digests++
			}
			problems = append(problems, validateStep(i, s)...)
			continue
		default:
			problems = append(problems, fmt.Sprintf("steps[%d].template.type must be %q, %q or %q (other channels are not supported)", i, StepTypeChat, StepTypeDelay, StepTypeDigest))
			continue
		}
		if strings.TrimSpace(s.Template.Content) == "" && s.Template.Blocks == "" {
			problems = append(problems, fmt.Sprintf("steps[%d].template.content should not be empty", i))
		}
		if err := eng.Validate(s.Template.Content, json.RawMessage(s.Template.Blocks)); err != nil {
			problems = append(problems, fmt.Sprintf("steps[%d].template.%v", i, err))
			continue
		}
		problems = append(problems, validateStep(i, s)...)
	}
	if digests > 1 {
		problems = append(problems, "steps may contain at most one digest step")
	}
	return problems
}
