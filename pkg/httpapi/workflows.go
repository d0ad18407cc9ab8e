package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/workflow"
)

// workflowRoutes registers /v1/workflows and its Novu alias /v1/notification-templates.
func (s *Server) workflowRoutes(api *echo.Group) {
	for _, base := range []string{"/workflows", "/notification-templates"} {
		api.POST(base, s.createWorkflow)
		api.GET(base, s.listWorkflows)
		api.GET(base+"/:workflowId", s.getWorkflow)
		api.PUT(base+"/:workflowId", s.updateWorkflow)
		api.DELETE(base+"/:workflowId", s.deleteWorkflow)
		api.PUT(base+"/:workflowId/status", s.setWorkflowStatus)
	}
}

type stepTemplateBody struct {
	Type    string          `json:"type"`
	Content *string         `json:"content"`
	Blocks  json.RawMessage `json:"blocks"`
}

type stepBody struct {
	ID                    string            `json:"_id"`
	Name                  string            `json:"name"`
	Active                *bool             `json:"active"`
	Template              *stepTemplateBody `json:"template"`
	Filters               json.RawMessage   `json:"filters"`
	Metadata              *metadataBody     `json:"metadata"`
	ProviderID            string            `json:"providerId"`
	IntegrationIdentifier string            `json:"integrationIdentifier"`
}

// metadataBody is a delay or digest step's settings; amount may be a number
// or a numeric string.
type metadataBody struct {
	Amount    any    `json:"amount"`
	Unit      string `json:"unit"`
	Type      string `json:"type"`
	DelayPath string `json:"delayPath"`
	DigestKey string `json:"digestKey"`
}

func (m *metadataBody) toMetadata(at string) (*workflow.Metadata, []string) {
	if m == nil {
		return nil, nil
	}
	out := &workflow.Metadata{Unit: m.Unit, Type: m.Type, DelayPath: m.DelayPath, DigestKey: m.DigestKey}
	switch v := m.Amount.(type) {
	case nil:
	case float64:
		if v != float64(int(v)) || v < 0 || v > 1e9 {
			return nil, []string{at + ".metadata.amount must be a positive integer"}
		}
		out.Amount = int(v)
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return nil, []string{at + ".metadata.amount must be a positive integer"}
		}
		out.Amount = n
	default:
		return nil, []string{at + ".metadata.amount must be a positive integer"}
	}
	return out, nil
}

type workflowBody struct {
	Name        *string  `json:"name"`
	Description *string  `json:"description"`
	Active      *bool    `json:"active"`
	Tags        []string `json:"tags"`
	Identifier  *string  `json:"identifier"`
	Triggers    []struct {
		Identifier string `json:"identifier"`
	} `json:"triggers"`
	Steps *[]stepBody `json:"steps"`
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// apply copies the body onto w (all fields on create, given ones on update)
// and returns structural problems; templates are checked by Validate.
func (b *workflowBody) apply(w *workflow.Workflow) []string {
	var problems []string
	if b.Name != nil {
		w.Name = *b.Name
	}
	if b.Description != nil {
		w.Description = *b.Description
	}
	if b.Active != nil {
		w.Active = *b.Active
	}
	if b.Tags != nil {
		w.Tags = b.Tags
	}
	switch {
	case b.Identifier != nil && *b.Identifier != "":
		w.TriggerIdentifier = *b.Identifier
	case len(b.Triggers) > 0 && b.Triggers[0].Identifier != "":
		w.TriggerIdentifier = b.Triggers[0].Identifier
	case w.TriggerIdentifier == "":
		w.TriggerIdentifier = workflow.Slug(w.Name)
	}
	if b.Steps == nil {
		return problems
	}
	old := map[string]workflow.Step{}
	for _, st := range w.Steps {
		old[st.ID.Hex()] = st
	}
	steps := make([]workflow.Step, 0, len(*b.Steps))
	for i, sb := range *b.Steps {
		var st workflow.Step
		if sb.ID != "" {
			id, err := primitive.ObjectIDFromHex(sb.ID)
			if err != nil {
				problems = append(problems, fmt.Sprintf("steps[%d]._id must be a mongodb id", i))
				continue
			}
			st = old[sb.ID]
			st.ID = id
		}
		st.Name = sb.Name
		if st.Name == "" {
			st.Name = fmt.Sprintf("Chat step %d", i+1)
		}
		st.Active = sb.Active == nil || *sb.Active
		if sb.Template == nil {
			problems = append(problems, fmt.Sprintf("steps[%d].template must be an object", i))
			continue
		}
		st.Template.Type = sb.Template.Type
		if sb.Template.Content != nil {
			st.Template.Content = *sb.Template.Content
		}
		st.Template.Blocks = ""
		if !isNull(sb.Template.Blocks) {
			st.Template.Blocks = string(bytes.TrimSpace(sb.Template.Blocks))
		}
		st.Filters = ""
		if !isNull(sb.Filters) {
			st.Filters = string(bytes.TrimSpace(sb.Filters))
		}
		st.ProviderID, st.IntegrationIdentifier = sb.ProviderID, sb.IntegrationIdentifier
		md, more := sb.Metadata.toMetadata(fmt.Sprintf("steps[%d]", i))
		if len(more) > 0 {
			problems = append(problems, more...)
			continue
		}
		st.Metadata = md
		if st.Name == fmt.Sprintf("Chat step %d", i+1) && (st.Template.Type == workflow.StepTypeDelay || st.Template.Type == workflow.StepTypeDigest) {
			st.Name = fmt.Sprintf("%s step %d", strings.ToUpper(st.Template.Type[:1])+st.Template.Type[1:], i+1)
		}
		steps = append(steps, st)
	}
	w.Steps = steps
	return problems
}

func (s *Server) validateWorkflow(w *workflow.Workflow, problems []string) error {
	problems = append(problems, w.Validate(s.Templates)...)
	if len(problems) > 0 {
		return errValidation(problems)
	}
	return nil
}

func duplicateWorkflow(identifier string) error {
	return errConflict(fmt.Sprintf("Workflow with identifier %s already exists", identifier))
}

func (s *Server) createWorkflow(c echo.Context) error {
	var body workflowBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	env := Env(c)
	w := &workflow.Workflow{EnvironmentID: env.ID, OrganizationID: env.OrganizationID, Active: true}
	if err := s.validateWorkflow(w, body.apply(w)); err != nil {
		return err
	}
	if err := s.Workflows.Create(c.Request().Context(), w); err != nil {
		if errors.Is(err, workflow.ErrDuplicateIdentifier) {
			return duplicateWorkflow(w.TriggerIdentifier)
		}
		return errInternal(err)
	}
	return data(c, http.StatusCreated, viewWorkflow(w))
}

func (s *Server) listWorkflows(c echo.Context) error {
	p, limit, err := pageParams(c, 10, 100)
	if err != nil {
		return err
	}
	list, total, err := s.Workflows.List(c.Request().Context(), Env(c).ID, p, limit)
	if err != nil {
		return errInternal(err)
	}
	views := make([]workflowView, 0, len(list))
	for i := range list {
		views = append(views, viewWorkflow(&list[i]))
	}
	return page(c, p, limit, total, views, len(views))
}

func notFoundWorkflow(id string) string { return "Workflow with id " + id + " not found" }

func (s *Server) loadWorkflow(c echo.Context) (*workflow.Workflow, error) {
	id := c.Param("workflowId")
	oid, err := store.ParseID(id)
	if err != nil {
		return nil, errNotFound(notFoundWorkflow(id))
	}
	w, err := s.Workflows.Get(c.Request().Context(), Env(c).ID, oid)
	if err != nil {
		return nil, storeErr(err, notFoundWorkflow(id))
	}
	return w, nil
}

func (s *Server) getWorkflow(c echo.Context) error {
	w, err := s.loadWorkflow(c)
	if err != nil {
		return err
	}
	return data(c, http.StatusOK, viewWorkflow(w))
}

func (s *Server) updateWorkflow(c echo.Context) error {
	var body workflowBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	w, err := s.loadWorkflow(c)
	if err != nil {
		return err
	}
	if err := s.validateWorkflow(w, body.apply(w)); err != nil {
		return err
	}
	if err := s.Workflows.Replace(c.Request().Context(), w); err != nil {
		if errors.Is(err, workflow.ErrDuplicateIdentifier) {
			return duplicateWorkflow(w.TriggerIdentifier)
		}
		return storeErr(err, notFoundWorkflow(c.Param("workflowId")))
	}
	return data(c, http.StatusOK, viewWorkflow(w))
}

func (s *Server) deleteWorkflow(c echo.Context) error {
	id := c.Param("workflowId")
	oid, err := store.ParseID(id)
	if err != nil {
		return errNotFound(notFoundWorkflow(id))
	}
	if err := s.Workflows.Delete(c.Request().Context(), Env(c).ID, oid); err != nil {
		return storeErr(err, notFoundWorkflow(id))
	}
	return data(c, http.StatusOK, true)
}

func (s *Server) setWorkflowStatus(c echo.Context) error {
	var body struct {
		Active *bool `json:"active"`
	}
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if body.Active == nil {
		return errValidation([]string{"active must be a boolean value"})
	}
	id := c.Param("workflowId")
	oid, err := store.ParseID(id)
	if err != nil {
		return errNotFound(notFoundWorkflow(id))
	}
	w, err := s.Workflows.SetActive(c.Request().Context(), Env(c).ID, oid, *body.Active)
	if err != nil {
		return storeErr(err, notFoundWorkflow(id))
	}
	return data(c, http.StatusOK, viewWorkflow(w))
}

type stepTemplateView struct {
	ID      primitive.ObjectID `json:"_id"`
	Type    string             `json:"type"`
	Content string             `json:"content"`
	Blocks  json.RawMessage    `json:"blocks,omitempty"`
}

type stepView struct {
	ID                    primitive.ObjectID `json:"_id"`
	TemplateID            primitive.ObjectID `json:"_templateId"`
	Name                  string             `json:"name"`
	Active                bool               `json:"active"`
	ShouldStopOnFail      bool               `json:"shouldStopOnFail"`
	Filters               json.RawMessage    `json:"filters"`
	Metadata              *metadataView      `json:"metadata,omitempty"`
	Template              stepTemplateView   `json:"template"`
	ProviderID            string             `json:"providerId,omitempty"`
	IntegrationIdentifier string             `json:"integrationIdentifier,omitempty"`
}

type metadataView struct {
	Amount    int    `json:"amount,omitempty"`
	Unit      string `json:"unit,omitempty"`
	Type      string `json:"type,omitempty"`
	DelayPath string `json:"delayPath,omitempty"`
	DigestKey string `json:"digestKey,omitempty"`
}

type triggerView struct {
	Type                string   `json:"type"`
	Identifier          string   `json:"identifier"`
	Variables           []string `json:"variables"`
	SubscriberVariables []string `json:"subscriberVariables"`
}

type workflowView struct {
	ID             primitive.ObjectID `json:"_id"`
	EnvironmentID  primitive.ObjectID `json:"_environmentId"`
	OrganizationID primitive.ObjectID `json:"_organizationId"`
	Name           string             `json:"name"`
	Description    string             `json:"description"`
	Active         bool               `json:"active"`
	Draft          bool               `json:"draft"`
	Critical       bool               `json:"critical"`
	Deleted        bool               `json:"deleted"`
	Tags           []string           `json:"tags"`
	Triggers       []triggerView      `json:"triggers"`
	Steps          []stepView         `json:"steps"`
	CreatedAt      time.Time          `json:"createdAt"`
	UpdatedAt      time.Time          `json:"updatedAt"`
}

func viewWorkflow(w *workflow.Workflow) workflowView {
	v := workflowView{
		ID: w.ID, EnvironmentID: w.EnvironmentID, OrganizationID: w.OrganizationID, Name: w.Name,
		Description: w.Description, Active: w.Active, Draft: !w.Active, Tags: w.Tags,
		Triggers:  []triggerView{{Type: "event", Identifier: w.TriggerIdentifier, Variables: []string{}, SubscriberVariables: []string{}}},
		Steps:     make([]stepView, 0, len(w.Steps)),
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
	}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	for _, st := range w.Steps {
		filters := json.RawMessage("[]")
		if st.Filters != "" {
			filters = json.RawMessage(st.Filters)
		}
		var blocks json.RawMessage
		if st.Template.Blocks != "" {
			blocks = json.RawMessage(st.Template.Blocks)
		}
		var md *metadataView
		if m := st.Metadata; m != nil {
			md = &metadataView{Amount: m.Amount, Unit: m.Unit, Type: m.Type, DelayPath: m.DelayPath, DigestKey: m.DigestKey}
		}
		v.Steps = append(v.Steps, stepView{
			Metadata: md,
			ID:       st.ID, TemplateID: st.Template.ID, Name: st.Name, Active: st.Active, Filters: filters,
			Template:   stepTemplateView{ID: st.Template.ID, Type: st.Template.Type, Content: st.Template.Content, Blocks: blocks},
			ProviderID: st.ProviderID, IntegrationIdentifier: st.IntegrationIdentifier,
		})
	}
	return v
}
