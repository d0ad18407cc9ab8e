package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/subscriber"
)

// MaxBulkSubscribers is the most subscribers POST /v1/subscribers/bulk takes.
const MaxBulkSubscribers = 500

// subscriberBody is a subscriber as clients send it; absent fields stay nil.
type subscriberBody struct {
	SubscriberID *string           `json:"subscriberId"`
	FirstName    *string           `json:"firstName"`
	LastName     *string           `json:"lastName"`
	Email        *string           `json:"email"`
	Phone        *string           `json:"phone"`
	Avatar       *string           `json:"avatar"`
	Locale       *string           `json:"locale"`
	Data         json.RawMessage   `json:"data"`
	Channels     []credentialsBody `json:"channels"`
}

func notFoundSubscriber(id string) string { return "Subscriber not found for id " + id }

// profile converts the body to a partial profile, collecting every problem.
func (b *subscriberBody) profile() (subscriber.Profile, []string) {
	p := subscriber.Profile{
		FirstName: b.FirstName, LastName: b.LastName, Email: b.Email,
		Phone: b.Phone, Avatar: b.Avatar, Locale: b.Locale,
	}
	problems := p.Validate()
	if raw := bytes.TrimSpace(b.Data); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		var m map[string]any
		if raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
			problems = append(problems, "data must be an object")
		} else {
			p.Data, p.HasData = m, true
		}
	}
	return p, problems
}

func (b *subscriberBody) id() string {
	if b.SubscriberID == nil {
		return ""
	}
	return *b.SubscriberID
}

func (s *Server) createSubscriber(c echo.Context) error {
	var body subscriberBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	env := Env(c)
	problems := subscriber.ValidateID(body.id())
	p, more := body.profile()
	problems = append(problems, more...)
	channels, more := s.resolveChannels(c, body.Channels)
	problems = append(problems, more...)
	if len(problems) > 0 {
		return errValidation(problems)
	}
	sub, _, err := s.Subscribers.Upsert(c.Request().Context(), env.ID, env.OrganizationID, body.id(), p)
	if err != nil {
		return errInternal(err)
	}
	for _, ch := range channels {
		if sub, err = s.Subscribers.SetCredentials(c.Request().Context(), env.ID, sub.SubscriberID, ch, true); err != nil {
			return errInternal(err)
		}
	}
	return data(c, http.StatusCreated, s.viewSubscriber(sub))
}

func (s *Server) listSubscribers(c echo.Context) error {
	p, limit, err := pageParams(c, 10, 100)
	if err != nil {
		return err
	}
	subs, total, err := s.Subscribers.List(c.Request().Context(), Env(c).ID, p, limit)
	if err != nil {
		return errInternal(err)
	}
	views := make([]subscriberView, 0, len(subs))
	for i := range subs {
		views = append(views, s.viewSubscriber(&subs[i]))
	}
	return page(c, p, limit, total, views, len(views))
}

func (s *Server) getSubscriber(c echo.Context) error {
	id := c.Param("subscriberId")
	sub, err := s.Subscribers.Get(c.Request().Context(), Env(c).ID, id)
	if err != nil {
		return storeErr(err, notFoundSubscriber(id))
	}
	return data(c, http.StatusOK, s.viewSubscriber(sub))
}

func (s *Server) updateSubscriber(c echo.Context) error {
	id := c.Param("subscriberId")
	var body subscriberBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	p, problems := body.profile()
	if body.SubscriberID != nil && *body.SubscriberID != id {
		problems = append(problems, "subscriberId cannot be changed")
	}
	if len(problems) > 0 {
		return errValidation(problems)
	}
	sub, err := s.Subscribers.Update(c.Request().Context(), Env(c).ID, id, p)
	if err != nil {
		return storeErr(err, notFoundSubscriber(id))
	}
	return data(c, http.StatusOK, s.viewSubscriber(sub))
}

func (s *Server) deleteSubscriber(c echo.Context) error {
	id := c.Param("subscriberId")
	if err := s.Subscribers.Delete(c.Request().Context(), Env(c).ID, id); err != nil {
		return storeErr(err, notFoundSubscriber(id))
	}
	return data(c, http.StatusOK, map[string]any{"acknowledged": true, "status": "deleted"})
}

type bulkFailure struct {
	Message      string `json:"message"`
	SubscriberID string `json:"subscriberId"`
}

type bulkResult struct {
	Created []map[string]string `json:"created"`
	Updated []map[string]string `json:"updated"`
	Failed  []bulkFailure       `json:"failed"`
}

// bulkCreateSubscribers answers POST /v1/subscribers/bulk: every valid item is
// upserted in one bulk write; an invalid item fails alone.
func (s *Server) bulkCreateSubscribers(c echo.Context) error {
	var body struct {
		Subscribers []subscriberBody `json:"subscribers"`
	}
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	n := len(body.Subscribers)
	if n == 0 || n > MaxBulkSubscribers {
		return errValidation([]string{fmt.Sprintf("subscribers must contain from 1 to %d elements", MaxBulkSubscribers)})
	}
	env := Env(c)
	res := bulkResult{Created: []map[string]string{}, Updated: []map[string]string{}, Failed: []bulkFailure{}}
	var items []subscriber.BulkItem
	seen := map[string]bool{}
	for _, b := range body.Subscribers {
		problems := subscriber.ValidateID(b.id())
		p, more := b.profile()
		problems = append(problems, more...)
		if len(b.Channels) > 0 {
			problems = append(problems, "channels are not accepted in bulk; set credentials per subscriber")
		}
		if seen[b.id()] && b.id() != "" {
			problems = append(problems, "subscriberId appears more than once in this request")
		}
		if len(problems) > 0 {
			res.Failed = append(res.Failed, bulkFailure{Message: joinProblems(problems), SubscriberID: b.id()})
			continue
		}
		seen[b.id()] = true
		items = append(items, subscriber.BulkItem{SubscriberID: b.id(), Profile: p})
	}
	created, failed, err := s.Subscribers.BulkUpsert(c.Request().Context(), env.ID, env.OrganizationID, items)
	if err != nil {
		return errInternal(err)
	}
	for i, it := range items {
		entry := map[string]string{"subscriberId": it.SubscriberID}
		switch {
		case failed[i] != nil:
			s.Logger.Warn("bulk subscriber write failed", "subscriber_id", it.SubscriberID, "error", failed[i].Error())
			res.Failed = append(res.Failed, bulkFailure{Message: "could not be saved", SubscriberID: it.SubscriberID})
		case created[i]:
			res.Created = append(res.Created, entry)
		default:
			res.Updated = append(res.Updated, entry)
		}
	}
	return data(c, http.StatusCreated, res)
}

func joinProblems(p []string) string {
	var b bytes.Buffer
	for i, s := range p {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(s)
	}
	return b.String()
}

var _ = errors.Is
var _ = store.ErrNotFound
