package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/topic"
)

// MaxTopicSubscribersPerRequest is the most subscriber ids one add or
// removal request takes.
const MaxTopicSubscribersPerRequest = 1000

// topicMembersBatch is how many member ids are read per query when a topic's
// members are listed.
const topicMembersBatch = 1000

func (s *Server) registerTopicRoutes(api *echo.Group) {
	api.POST("/topics", s.createTopic)
	api.GET("/topics", s.listTopics)
	api.GET("/topics/:topicKey", s.getTopic)
	api.PATCH("/topics/:topicKey", s.renameTopic)
	api.DELETE("/topics/:topicKey", s.deleteTopic)
	api.POST("/topics/:topicKey/subscribers", s.addTopicSubscribers)
	api.POST("/topics/:topicKey/subscribers/removal", s.removeTopicSubscribers)
	api.GET("/topics/:topicKey/subscribers/:externalSubscriberId", s.getTopicSubscriber)
}

func notFoundTopic(key string, env primitive.ObjectID) string {
	return fmt.Sprintf("Topic not found for id %s in the environment %s", key, env.Hex())
}

// topicView is a topic as Novu renders it; Subscribers is set only where
// Novu lists them (GET and PATCH of one topic).
type topicView struct {
	ID             string   `json:"_id"`
	EnvironmentID  string   `json:"_environmentId"`
	OrganizationID string   `json:"_organizationId"`
	Key            string   `json:"key"`
	Name           string   `json:"name"`
	Subscribers    []string `json:"subscribers,omitempty"`
}

func viewTopic(t *topic.Topic) topicView {
	return topicView{
		ID: t.ID.Hex(), EnvironmentID: t.EnvironmentID.Hex(), OrganizationID: t.OrganizationID.Hex(),
		Key: t.Key, Name: t.Name,
	}
}

// viewTopicWithMembers renders a topic with every member id, read in batches.
func (s *Server) viewTopicWithMembers(c echo.Context, t *topic.Topic) (map[string]any, error) {
	members := []string{}
	after := ""
	for {
		ids, err := s.Topics.Members(c.Request().Context(), t.EnvironmentID, t.Key, after, topicMembersBatch)
		if err != nil {
			return nil, errInternal(err)
		}
		members = append(members, ids...)
		if len(ids) < topicMembersBatch {
			break
		}
		after = ids[len(ids)-1]
	}
	v := viewTopic(t)
	return map[string]any{
		"_id": v.ID, "_environmentId": v.EnvironmentID, "_organizationId": v.OrganizationID,
		"key": v.Key, "name": v.Name, "subscribers": members,
	}, nil
}

type topicBody struct {
	Key  *string `json:"key"`
	Name *string `json:"name"`
}

func (s *Server) createTopic(c echo.Context) error {
	var body topicBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	key, name := deref(body.Key), deref(body.Name)
	problems := append(topic.ValidateKey(key), topic.ValidateName(name)...)
	if len(problems) > 0 {
		return errValidation(problems)
	}
	env := Env(c)
	t, err := s.Topics.Create(c.Request().Context(), env.ID, env.OrganizationID, key, name)
	if errors.Is(err, topic.ErrExists) {
		return errConflict("Topic exists with key " + key)
	}
	if err != nil {
		return errInternal(err)
	}
	return data(c, http.StatusCreated, map[string]string{"_id": t.ID.Hex(), "key": t.Key})
}

// topicPageParams reads the 0-based page and pageSize query parameters of GET /v1/topics.
func topicPageParams(c echo.Context) (page, size int, err error) {
	page, size = 0, 10
	var problems []string
	if v := c.QueryParam("page"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 0 {
			problems = append(problems, "page must not be less than 0")
		} else {
			page = n
		}
	}
	if v := c.QueryParam("pageSize"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 1 || n > 100 {
			problems = append(problems, "pageSize must be a number from 1 to 100")
		} else {
			size = n
		}
	}
	if len(problems) > 0 {
		return 0, 0, errValidation(problems)
	}
	return page, size, nil
}

func (s *Server) listTopics(c echo.Context) error {
	p, size, err := topicPageParams(c)
	if err != nil {
		return err
	}
	topics, total, err := s.Topics.List(c.Request().Context(), Env(c).ID, c.QueryParam("key"), p, size)
	if err != nil {
		return errInternal(err)
	}
	views := make([]topicView, 0, len(topics))
	for i := range topics {
		views = append(views, viewTopic(&topics[i]))
	}
	return page(c, p, size, total, views, len(views))
}

func (s *Server) getTopic(c echo.Context) error {
	key, env := c.Param("topicKey"), Env(c)
	t, err := s.Topics.Get(c.Request().Context(), env.ID, key)
	if err != nil {
		return storeErr(err, notFoundTopic(key, env.ID))
	}
	v, err := s.viewTopicWithMembers(c, t)
	if err != nil {
		return err
	}
	return data(c, http.StatusOK, v)
}

func (s *Server) renameTopic(c echo.Context) error {
	key, env := c.Param("topicKey"), Env(c)
	var body topicBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	problems := topic.ValidateName(deref(body.Name))
	if body.Key != nil && *body.Key != key {
		problems = append(problems, "key cannot be changed")
	}
	if len(problems) > 0 {
		return errValidation(problems)
	}
	t, err := s.Topics.Rename(c.Request().Context(), env.ID, key, *body.Name)
	if err != nil {
		return storeErr(err, notFoundTopic(key, env.ID))
	}
	v, err := s.viewTopicWithMembers(c, t)
	if err != nil {
		return err
	}
	return data(c, http.StatusOK, v)
}

func (s *Server) deleteTopic(c echo.Context) error {
	key, env := c.Param("topicKey"), Env(c)
	err := s.Topics.Delete(c.Request().Context(), env.ID, key)
	if errors.Is(err, topic.ErrHasMembers) {
		return errConflict(fmt.Sprintf("Topic with key %s still has subscribers assigned; remove them before deleting it", key))
	}
	if err != nil {
		return storeErr(err, notFoundTopic(key, env.ID))
	}
	return c.NoContent(http.StatusNoContent)
}

type topicSubscribersBody struct {
	Subscribers []string `json:"subscribers"`
}

// ids returns the body's subscriber ids without duplicates, in order, and their problems.
func (b *topicSubscribersBody) ids() ([]string, []string) {
	var problems []string
	switch n := len(b.Subscribers); {
	case n == 0:
		problems = append(problems, "subscribers must contain at least 1 element")
	case n > MaxTopicSubscribersPerRequest:
		problems = append(problems, fmt.Sprintf("subscribers must contain no more than %d elements", MaxTopicSubscribersPerRequest))
	}
	seen := make(map[string]bool, len(b.Subscribers))
	out := make([]string, 0, len(b.Subscribers))
	for i, id := range b.Subscribers {
		if id == "" {
			problems = append(problems, fmt.Sprintf("subscribers[%d] should not be empty", i))
			continue
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, problems
}

// addTopicSubscribers answers POST /v1/topics/:topicKey/subscribers: the
// topic is created (named after its key) when missing; ids that are not
// subscribers of the environment are reported in failed.notFound.
func (s *Server) addTopicSubscribers(c echo.Context) error {
	key, env := c.Param("topicKey"), Env(c)
	var body topicSubscribersBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	ids, problems := body.ids()
	problems = append(topic.ValidateKey(key), problems...)
	if len(problems) > 0 {
		return errValidation(problems)
	}
	ctx := c.Request().Context()
	subs, err := s.Subscribers.GetMany(ctx, env.ID, ids)
	if err != nil {
		return errInternal(err)
	}
	byID := make(map[string]primitive.ObjectID, len(subs))
	for _, sub := range subs {
		byID[sub.SubscriberID] = sub.ID
	}
	succeeded, notFound := []string{}, []string{}
	members := make([]topic.NewMember, 0, len(subs))
	for _, id := range ids {
		oid, ok := byID[id]
		if !ok {
			notFound = append(notFound, id)
			continue
		}
		succeeded = append(succeeded, id)
		members = append(members, topic.NewMember{SubscriberID: id, SubscriberOID: oid})
	}
	t, _, err := s.Topics.Ensure(ctx, env.ID, env.OrganizationID, key)
	if err != nil {
		return errInternal(err)
	}
	if err := s.Topics.AddMembers(ctx, t, members); err != nil {
		return errInternal(err)
	}
	return data(c, http.StatusOK, map[string]any{
		"succeeded": succeeded,
		"failed":    map[string]any{"notFound": notFound},
	})
}

func (s *Server) removeTopicSubscribers(c echo.Context) error {
	key, env := c.Param("topicKey"), Env(c)
	var body topicSubscribersBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	ids, problems := body.ids()
	if len(problems) > 0 {
		return errValidation(problems)
	}
	ctx := c.Request().Context()
	if _, err := s.Topics.Get(ctx, env.ID, key); err != nil {
		return storeErr(err, notFoundTopic(key, env.ID))
	}
	if err := s.Topics.RemoveMembers(ctx, env.ID, key, ids); err != nil {
		return errInternal(err)
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) getTopicSubscriber(c echo.Context) error {
	key, id, env := c.Param("topicKey"), c.Param("externalSubscriberId"), Env(c)
	m, err := s.Topics.GetMember(c.Request().Context(), env.ID, key, id)
	if errors.Is(err, store.ErrNotFound) {
		if _, terr := s.Topics.Get(c.Request().Context(), env.ID, key); errors.Is(terr, store.ErrNotFound) {
			return errNotFound(notFoundTopic(key, env.ID))
		}
		return errNotFound(fmt.Sprintf("Subscriber %s not found in topic %s", id, key))
	}
	if err != nil {
		return errInternal(err)
	}
	return data(c, http.StatusOK, map[string]string{
		"_organizationId":      m.OrganizationID.Hex(),
		"_environmentId":       m.EnvironmentID.Hex(),
		"_subscriberId":        m.SubscriberOID.Hex(),
		"_topicId":             m.TopicID.Hex(),
		"topicKey":             m.TopicKey,
		"externalSubscriberId": m.SubscriberID,
	})
}
