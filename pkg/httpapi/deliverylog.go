package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/store"
)

// deliveryLogRoutes registers the delivery log API.
func (s *Server) deliveryLogRoutes(api *echo.Group) {
	api.GET("/notifications", s.listNotifications)
	api.GET("/notifications/:notificationId", s.getNotification)
	api.GET("/execution-details", s.listExecutionDetails)
	api.GET("/messages", s.listMessages)
	api.DELETE("/messages/:messageId", s.deleteMessage)
	api.POST("/messages/:messageId/retry", s.retryMessage)
	api.DELETE("/messages/transaction/:transactionId", s.deleteMessagesByTransaction)
}

// queryList reads a list query parameter given as name=a&name=b, name[]=a
// or name=a,b.
func queryList(c echo.Context, name string) []string {
	q := c.QueryParams()
	var out []string
	for _, key := range []string{name, name + "[]"} {
		for _, v := range q[key] {
			for _, part := range strings.Split(v, ",") {
				if part = strings.TrimSpace(part); part != "" {
					out = append(out, part)
				}
			}
		}
	}
	return out
}

var messageStatuses = map[string]bool{delivery.StatusPending: true, delivery.StatusSent: true, delivery.StatusError: true,
	delivery.StatusCanceled: true, delivery.StatusMerged: true}

func (s *Server) listNotifications(c echo.Context) error {
	p, limit, err := pageParams(c, 10, 100)
	if err != nil {
		return err
	}
	f := delivery.NotificationFilter{
		TransactionID: c.QueryParam("transactionId"),
		SubscriberIDs: queryList(c, "subscriberIds"),
		Channels:      queryList(c, "channels"),
		Status:        c.QueryParam("status"),
	}
	var problems []string
	for _, t := range queryList(c, "templates") {
		id, err := primitive.ObjectIDFromHex(t)
		if err != nil {
			problems = append(problems, "templates must contain workflow ids")
			break
		}
		f.TemplateIDs = append(f.TemplateIDs, id)
	}
	if f.Status != "" && !messageStatuses[f.Status] {
		problems = append(problems, "status must be one of pending, sent, error, canceled, merged")
	}
	if len(problems) > 0 {
		return errValidation(problems)
	}
	env := Env(c)
	ctx := c.Request().Context()
	list, total, err := s.Deliveries.ListNotifications(ctx, env.ID, f, p, limit)
	if err != nil {
		return errInternal(err)
	}
	ids := make([]primitive.ObjectID, len(list))
	for i := range list {
		ids[i] = list[i].ID
	}
	msgs, err := s.Deliveries.MessagesOf(ctx, env.ID, ids, "")
	if err != nil {
		return errInternal(err)
	}
	views := viewNotifications(list, msgs)
	return page(c, p, limit, total, views, len(views))
}

func (s *Server) getNotification(c echo.Context) error {
	id := c.Param("notificationId")
	notFound := "Notification with id " + id + " not found"
	oid, err := store.ParseID(id)
	if err != nil {
		return errNotFound(notFound)
	}
	env := Env(c)
	n, err := s.Deliveries.GetNotification(c.Request().Context(), env.ID, oid)
	if err != nil {
		return storeErr(err, notFound)
	}
	msgs, err := s.Deliveries.MessagesOf(c.Request().Context(), env.ID, []primitive.ObjectID{oid}, "")
	if err != nil {
		return errInternal(err)
	}
	return data(c, http.StatusOK, viewNotifications([]delivery.Notification{*n}, msgs)[0])
}

func (s *Server) listExecutionDetails(c echo.Context) error {
	nid := c.QueryParam("notificationId")
	subID := c.QueryParam("subscriberId")
	var problems []string
	if nid == "" {
		problems = append(problems, "notificationId should not be empty")
	}
	if subID == "" {
		problems = append(problems, "subscriberId should not be empty")
	}
	if len(problems) > 0 {
		return errValidation(problems)
	}
	out := []executionDetailView{}
	oid, err := primitive.ObjectIDFromHex(nid)
	if err != nil {
		return data(c, http.StatusOK, out)
	}
	msgs, err := s.Deliveries.MessagesOf(c.Request().Context(), Env(c).ID, []primitive.ObjectID{oid}, subID)
	if err != nil {
		return errInternal(err)
	}
	for i := range msgs {
		out = append(out, viewDetails(&msgs[i])...)
	}
	return data(c, http.StatusOK, out)
}

func (s *Server) listMessages(c echo.Context) error {
	p, limit, err := pageParams(c, 10, 1000)
	if err != nil {
		return err
	}
	f := delivery.MessageFilter{
		Channel: c.QueryParam("channel"), SubscriberID: c.QueryParam("subscriberId"),
		TransactionIDs: queryList(c, "transactionId"),
	}
	list, total, err := s.Deliveries.ListMessages(c.Request().Context(), Env(c).ID, f, p, limit)
	if err != nil {
		return errInternal(err)
	}
	views := make([]messageView, 0, len(list))
	for i := range list {
		views = append(views, viewMessage(&list[i]))
	}
	return page(c, p, limit, total, views, len(views))
}

func (s *Server) deleteMessage(c echo.Context) error {
	id := c.Param("messageId")
	notFound := "Message with id " + id + " not found"
	oid, err := store.ParseID(id)
	if err != nil {
		return errNotFound(notFound)
	}
	if err := s.Deliveries.DeleteMessage(c.Request().Context(), Env(c).ID, oid); err != nil {
		return storeErr(err, notFound)
	}
	return data(c, http.StatusOK, map[string]any{"acknowledged": true, "status": "deleted"})
}

type executionDetailView struct {
	ID                     primitive.ObjectID `json:"_id"`
	JobID                  primitive.ObjectID `json:"_jobId"`
	MessageID              primitive.ObjectID `json:"_messageId"`
	NotificationID         primitive.ObjectID `json:"_notificationId"`
	NotificationTemplateID primitive.ObjectID `json:"_notificationTemplateId"`
	SubscriberObjID        primitive.ObjectID `json:"_subscriberId"`
	EnvironmentID          primitive.ObjectID `json:"_environmentId"`
	OrganizationID         primitive.ObjectID `json:"_organizationId"`
	ProviderID             string             `json:"providerId,omitempty"`
	TransactionID          string             `json:"transactionId"`
	Channel                string             `json:"channel"`
	Detail                 string             `json:"detail"`
	Source                 string             `json:"source"`
	Status                 string             `json:"status"`
	IsTest                 bool               `json:"isTest"`
	IsRetry                bool               `json:"isRetry"`
	Raw                    string             `json:"raw,omitempty"`
	CreatedAt              time.Time          `json:"createdAt"`
}

func viewDetails(m *delivery.Message) []executionDetailView {
	out := make([]executionDetailView, 0, len(m.ExecutionDetails))
	for _, d := range m.ExecutionDetails {
		out = append(out, executionDetailView{
			ID: d.ID, JobID: m.ID, MessageID: m.ID, NotificationID: m.NotificationID, NotificationTemplateID: m.TemplateID,
			SubscriberObjID: m.SubscriberObjID, EnvironmentID: m.EnvironmentID, OrganizationID: m.OrganizationID,
			ProviderID: m.ProviderID, TransactionID: m.TransactionID, Channel: m.Channel, Detail: d.Detail,
			Source: d.Source, Status: d.Status, IsRetry: d.IsRetry, Raw: d.Raw, CreatedAt: d.CreatedAt,
		})
	}
	return out
}

// jobStatus maps a message status to Novu's job status.
func jobStatus(status string) string {
	switch status {
	case delivery.StatusSent:
		return "completed"
	case delivery.StatusError:
		return "failed"
	case delivery.StatusCanceled, delivery.StatusMerged:
		return status
	}
	return "queued"
}

type jobView struct {
	ID               primitive.ObjectID    `json:"_id"`
	Type             string                `json:"type"`
	Status           string                `json:"status"`
	ProviderID       string                `json:"providerId,omitempty"`
	Attempts         int                   `json:"attempts"`
	Step             map[string]any        `json:"step"`
	ExecutionDetails []executionDetailView `json:"executionDetails"`
	CreatedAt        time.Time             `json:"createdAt"`
	UpdatedAt        time.Time             `json:"updatedAt"`
}

type notificationView struct {
	ID              primitive.ObjectID `json:"_id"`
	EnvironmentID   primitive.ObjectID `json:"_environmentId"`
	OrganizationID  primitive.ObjectID `json:"_organizationId"`
	TemplateID      primitive.ObjectID `json:"_templateId"`
	SubscriberObjID primitive.ObjectID `json:"_subscriberId"`
	TransactionID   string             `json:"transactionId"`
	Channels        []string           `json:"channels"`
	Payload         map[string]any     `json:"payload"`
	Template        map[string]any     `json:"template"`
	Subscriber      map[string]any     `json:"subscriber"`
	Status          string             `json:"status"`
	Jobs            []jobView          `json:"jobs"`
	CreatedAt       time.Time          `json:"createdAt"`
	UpdatedAt       time.Time          `json:"updatedAt"`
}

// notificationStatus summarises a notification's messages: error if any
// failed, pending if any is pending or none is written yet (a message sent
// at once is written by its first attempt), canceled if every job was
// filtered, merged into a digest or canceled, else sent.
func notificationStatus(jobs []jobView, msgs map[primitive.ObjectID]string) string {
	if len(jobs) == 0 {
		return delivery.StatusPending
	}
	status := delivery.StatusSent
	skipped := 0
	for _, j := range jobs {
		switch msgs[j.ID] {
		case delivery.StatusError:
			return delivery.StatusError
		case delivery.StatusPending:
			status = delivery.StatusPending
		case delivery.StatusCanceled, delivery.StatusMerged:
			skipped++
		}
	}
	if len(jobs) > 0 && skipped == len(jobs) {
		return delivery.StatusCanceled
	}
	return status
}

func viewNotifications(list []delivery.Notification, msgs []delivery.Message) []notificationView {
	byNote := map[primitive.ObjectID][]*delivery.Message{}
	for i := range msgs {
		byNote[msgs[i].NotificationID] = append(byNote[msgs[i].NotificationID], &msgs[i])
	}
	out := make([]notificationView, 0, len(list))
	for _, n := range list {
		v := notificationView{
			ID: n.ID, EnvironmentID: n.EnvironmentID, OrganizationID: n.OrganizationID, TemplateID: n.TemplateID,
			SubscriberObjID: n.SubscriberObjID, TransactionID: n.TransactionID, Channels: n.Channels, Payload: n.Payload,
			Template: map[string]any{"_id": n.TemplateID, "name": n.TemplateName,
				"triggers": []map[string]any{{"type": "event", "identifier": n.TemplateIdentifier}}},
			Subscriber: map[string]any{"_id": n.SubscriberObjID, "subscriberId": n.SubscriberID},
			Jobs:       []jobView{},
			CreatedAt:  n.CreatedAt, UpdatedAt: n.UpdatedAt,
		}
		statuses := map[primitive.ObjectID]string{}
		for _, m := range byNote[n.ID] {
			statuses[m.ID] = m.Status
			v.Jobs = append(v.Jobs, jobView{
				ID: m.ID, Type: m.Channel, Status: jobStatus(m.Status), ProviderID: m.ProviderID, Attempts: m.Attempts,
				Step:             map[string]any{"_id": m.StepID, "name": m.StepName, "active": true},
				ExecutionDetails: viewDetails(m), CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
			})
		}
		v.Status = notificationStatus(v.Jobs, statuses)
		out = append(out, v)
	}
	return out
}

type messageView struct {
	ID                 primitive.ObjectID `json:"_id"`
	EnvironmentID      primitive.ObjectID `json:"_environmentId"`
	OrganizationID     primitive.ObjectID `json:"_organizationId"`
	NotificationID     primitive.ObjectID `json:"_notificationId"`
	TemplateID         primitive.ObjectID `json:"_templateId"`
	JobID              primitive.ObjectID `json:"_jobId"`
	SubscriberObjID    primitive.ObjectID `json:"_subscriberId"`
	SubscriberID       string             `json:"subscriberId"`
	TemplateIdentifier string             `json:"templateIdentifier"`
	TransactionID      string             `json:"transactionId"`
	Channel            string             `json:"channel"`
	ProviderID         string             `json:"providerId,omitempty"`
	IntegrationID      primitive.ObjectID `json:"_integrationId,omitzero"`
	Content            string             `json:"content"`
	Blocks             json.RawMessage    `json:"blocks,omitempty"`
	Status             string             `json:"status"`
	ErrorID            string             `json:"errorId,omitempty"`
	ErrorText          string             `json:"errorText,omitempty"`
	Attempts           int                `json:"attempts"`
	Seen               bool               `json:"seen"`
	Read               bool               `json:"read"`
	DeliveredAt        []time.Time        `json:"deliveredAt"`
	CreatedAt          time.Time          `json:"createdAt"`
	UpdatedAt          time.Time          `json:"updatedAt"`
}

func viewMessage(m *delivery.Message) messageView {
	v := messageView{
		ID: m.ID, EnvironmentID: m.EnvironmentID, OrganizationID: m.OrganizationID, NotificationID: m.NotificationID,
		TemplateID: m.TemplateID, JobID: m.ID, SubscriberObjID: m.SubscriberObjID, SubscriberID: m.SubscriberID,
		TemplateIdentifier: m.TemplateIdentifier, TransactionID: m.TransactionID, Channel: m.Channel,
		ProviderID: m.ProviderID, IntegrationID: m.IntegrationID, Content: m.Content, Status: m.Status,
		ErrorID: m.ErrorID, ErrorText: m.ErrorText, Attempts: m.Attempts, DeliveredAt: m.DeliveredAt,
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	}
	if m.Blocks != "" {
		v.Blocks = json.RawMessage(m.Blocks)
	}
	if v.DeliveredAt == nil {
		v.DeliveredAt = []time.Time{}
	}
	return v
}
