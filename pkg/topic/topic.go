package topic

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/heraldhq/herald/pkg/store"
)

// MaxKeyLength is the longest accepted topic key.
const MaxKeyLength = 100

// MaxNameLength is the longest accepted topic name.
const MaxNameLength = 255

var keyRE = regexp.MustCompile(`^[A-Za-z0-9_.:\-]+$`)

// ErrExists is returned by Create when the environment already has a topic with the key.
var ErrExists = errors.New("topic: key exists")

// ErrHasMembers is returned by Delete while the topic still has subscribers.
var ErrHasMembers = errors.New("topic: still has subscribers")

// Topic is a named group of subscribers.
type Topic struct {
	ID             primitive.ObjectID `bson:"_id"`
	EnvironmentID  primitive.ObjectID `bson:"_environmentId"`
	OrganizationID primitive.ObjectID `bson:"_organizationId"`
	Key            string             `bson:"key"`
	Name           string             `bson:"name"`
	CreatedAt      time.Time          `bson:"createdAt"`
	UpdatedAt      time.Time          `bson:"updatedAt"`
}

// Member is one subscriber of a topic.
type Member struct {
	EnvironmentID  primitive.ObjectID `bson:"_environmentId"`
	OrganizationID primitive.ObjectID `bson:"_organizationId"`
	TopicID        primitive.ObjectID `bson:"_topicId"`
	TopicKey       string             `bson:"topicKey"`
	SubscriberID   string             `bson:"subscriberId"`
	SubscriberOID  primitive.ObjectID `bson:"_subscriberId"`
	CreatedAt      time.Time          `bson:"createdAt"`
}

// NewMember names a subscriber to add to a topic: its external id and its document id.
type NewMember struct {
	SubscriberID  string
	SubscriberOID primitive.ObjectID
}

// ValidateKey returns the problems with a topic key, in the API's wording.
func ValidateKey(key string) []string {
	switch {
	case key == "":
		return []string{"key should not be empty"}
	case len(key) > MaxKeyLength:
		return []string{fmt.Sprintf("key must be shorter than or equal to %d characters", MaxKeyLength)}
	case !keyRE.MatchString(key):
		return []string{"key must contain only letters, digits and the characters _ . : -"}
	}
	return nil
}

// ValidateName returns the problems with a topic name.
func ValidateName(name string) []string {
	switch {
	case name == "":
		return []string{"name should not be empty"}
	case len(name) > MaxNameLength:
		return []string{fmt.Sprintf("name must be shorter than or equal to %d characters", MaxNameLength)}
	}
	return nil
}

// Store reads and writes topics and their members.
type Store struct {
	topics  *mongo.Collection
	members *mongo.Collection
}

// NewStore returns a Store.
func NewStore(st *store.Store) *Store {
	return &Store{topics: st.C(store.Topics), members: st.C(store.TopicSubscribers)}
}

// Create creates a topic; it returns ErrExists when the key is taken.
func (s *Store) Create(ctx context.Context, env, org primitive.ObjectID, key, name string) (*Topic, error) {
	now := store.Now()
	t := &Topic{ID: primitive.NewObjectID(), EnvironmentID: env, OrganizationID: org, Key: key, Name: name, CreatedAt: now, UpdatedAt: now}
	if _, err := s.topics.InsertOne(ctx, t); err != nil {
		if store.IsDuplicateKey(err) {
			return nil, ErrExists
		}
		return nil, fmt.Errorf("topic: create: %w", err)
	}
	return t, nil
}

// Ensure returns the topic with the key, creating it (named after its key)
// when missing. created reports whether this call created it.
func (s *Store) Ensure(ctx context.Context, env, org primitive.ObjectID, key string) (t *Topic, created bool, err error) {
	for attempt := 0; attempt < 3; attempt++ {
		t, err = s.Get(ctx, env, key)
		if !errors.Is(err, store.ErrNotFound) {
			return t, false, err
		}
		t, err = s.Create(ctx, env, org, key, key)
		if !errors.Is(err, ErrExists) {
			return t, err == nil, err
		}
		// Created concurrently: read it again.
	}
	return nil, false, fmt.Errorf("topic: ensure %q: kept changing", key)
}

// Get returns the topic with the key, or store.ErrNotFound.
func (s *Store) Get(ctx context.Context, env primitive.ObjectID, key string) (*Topic, error) {
	var t Topic
	err := s.topics.FindOne(ctx, bson.M{"_environmentId": env, "key": key}).Decode(&t)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("topic: get: %w", err)
	}
	return &t, nil
}

// List returns a page of the environment's topics in creation order and the
// total count; a non-empty key restricts the list to that exact key.
func (s *Store) List(ctx context.Context, env primitive.ObjectID, key string, page, limit int) ([]Topic, int64, error) {
	f := bson.M{"_environmentId": env}
	if key != "" {
		f["key"] = key
	}
	total, err := s.topics.CountDocuments(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("topic: count: %w", err)
	}
	cur, err := s.topics.Find(ctx, f, options.Find().
		SetSort(bson.D{{Key: "_id", Value: 1}}).
		SetSkip(int64(page*limit)).SetLimit(int64(limit)))
	if err != nil {
		return nil, 0, fmt.Errorf("topic: list: %w", err)
	}
	out := []Topic{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, 0, fmt.Errorf("topic: list: %w", err)
	}
	return out, total, nil
}

// Rename changes a topic's name.
func (s *Store) Rename(ctx context.Context, env primitive.ObjectID, key, name string) (*Topic, error) {
	var t Topic
	err := s.topics.FindOneAndUpdate(ctx, bson.M{"_environmentId": env, "key": key},
		bson.M{"$set": bson.M{"name": name, "updatedAt": store.Now()}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&t)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("topic: rename: %w", err)
	}
	return &t, nil
}

// Delete removes a topic that has no members: ErrHasMembers while it has
// some, store.ErrNotFound when it does not exist.
func (s *Store) Delete(ctx context.Context, env primitive.ObjectID, key string) error {
	n, err := s.CountMembers(ctx, env, key)
	if err != nil {
		return err
	}
	if n > 0 {
		return ErrHasMembers
	}
	res, err := s.topics.DeleteOne(ctx, bson.M{"_environmentId": env, "key": key})
	if err != nil {
		return fmt.Errorf("topic: delete: %w", err)
	}
	if res.DeletedCount == 0 {
		return store.ErrNotFound
	}
	return nil
}

// AddMembers adds subscribers to the topic; adding a member twice is a no-op.
// The existing memberships are read with one $in query, the new ones are
// written with one unordered InsertMany, and only memberships whose
// subscriber document changed (deleted and created again) are updated:
// FerretDB v1 scans the collection for every update, so upserting each
// member would make large topics slow to fill.
func (s *Store) AddMembers(ctx context.Context, t *Topic, members []NewMember) error {
	if len(members) == 0 {
		return nil
	}
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.SubscriberID
	}
	cur, err := s.members.Find(ctx, bson.M{"_environmentId": t.EnvironmentID, "topicKey": t.Key, "subscriberId": bson.M{"$in": ids}},
		options.Find().SetProjection(bson.M{"subscriberId": 1, "_subscriberId": 1, "_topicId": 1}))
	if err != nil {
		return fmt.Errorf("topic: add members: %w", err)
	}
	var have []Member
	if err := cur.All(ctx, &have); err != nil {
		return fmt.Errorf("topic: add members: %w", err)
	}
	existing := make(map[string]Member, len(have))
	for _, m := range have {
		existing[m.SubscriberID] = m
	}
	now := store.Now()
	var inserts []any
	var updates []mongo.WriteModel
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		if seen[m.SubscriberID] {
			continue
		}
		seen[m.SubscriberID] = true
		old, ok := existing[m.SubscriberID]
		switch {
		case !ok:
			inserts = append(inserts, Member{EnvironmentID: t.EnvironmentID, OrganizationID: t.OrganizationID, TopicID: t.ID,
				TopicKey: t.Key, SubscriberID: m.SubscriberID, SubscriberOID: m.SubscriberOID, CreatedAt: now})
		case old.SubscriberOID != m.SubscriberOID || old.TopicID != t.ID:
			updates = append(updates, mongo.NewUpdateOneModel().
				SetFilter(bson.M{"_environmentId": t.EnvironmentID, "topicKey": t.Key, "subscriberId": m.SubscriberID}).
				SetUpdate(bson.M{"$set": bson.M{"_topicId": t.ID, "_subscriberId": m.SubscriberOID}}))
		}
	}
	if len(inserts) > 0 {
		_, err := s.members.InsertMany(ctx, inserts, options.InsertMany().SetOrdered(false))
		var bwe mongo.BulkWriteException
		if errors.As(err, &bwe) {
			// A concurrent add of the same member inserted it first: the
			// member is there, which is what was asked.
			for _, we := range bwe.WriteErrors {
				if !store.IsDuplicateKey(we) && we.Code != 11000 {
					return fmt.Errorf("topic: add members: %w", err)
				}
			}
			err = nil
		}
		if err != nil && !store.IsDuplicateKey(err) {
			return fmt.Errorf("topic: add members: %w", err)
		}
	}
	if len(updates) > 0 {
		if _, err := s.members.BulkWrite(ctx, updates, options.BulkWrite().SetOrdered(false)); err != nil {
			return fmt.Errorf("topic: add members: %w", err)
		}
	}
	return nil
}

// RemoveMembers removes subscribers from the topic; ids that are not members are ignored.
func (s *Store) RemoveMembers(ctx context.Context, env primitive.ObjectID, key string, subscriberIDs []string) error {
	if len(subscriberIDs) == 0 {
		return nil
	}
	_, err := s.members.DeleteMany(ctx, bson.M{"_environmentId": env, "topicKey": key, "subscriberId": bson.M{"$in": subscriberIDs}})
	if err != nil {
		return fmt.Errorf("topic: remove members: %w", err)
	}
	return nil
}

// GetMember returns one membership, or store.ErrNotFound.
func (s *Store) GetMember(ctx context.Context, env primitive.ObjectID, key, subscriberID string) (*Member, error) {
	var m Member
	err := s.members.FindOne(ctx, bson.M{"_environmentId": env, "topicKey": key, "subscriberId": subscriberID}).Decode(&m)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("topic: get member: %w", err)
	}
	return &m, nil
}

// Members returns up to limit subscriber ids of the topic, sorted, that come
// after afterSubscriberID ("" for the first batch). Feed the last id of a
// batch back as afterSubscriberID for the next; a batch shorter than limit is
// the last. Memory stays bounded by limit whatever the topic's size.
func (s *Store) Members(ctx context.Context, env primitive.ObjectID, key, afterSubscriberID string, limit int) ([]string, error) {
	if limit < 1 {
		return nil, fmt.Errorf("topic: members: limit must be positive, got %d", limit)
	}
	f := bson.M{"_environmentId": env, "topicKey": key}
	if afterSubscriberID != "" {
		f["subscriberId"] = bson.M{"$gt": afterSubscriberID}
	}
	cur, err := s.members.Find(ctx, f, options.Find().
		SetSort(bson.D{{Key: "subscriberId", Value: 1}}).
		SetLimit(int64(limit)).
		SetProjection(bson.M{"subscriberId": 1, "_id": 0}))
	if err != nil {
		return nil, fmt.Errorf("topic: members: %w", err)
	}
	var docs []struct {
		SubscriberID string `bson:"subscriberId"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("topic: members: %w", err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.SubscriberID
	}
	return out, nil
}

// CountMembers returns how many subscribers the topic has.
func (s *Store) CountMembers(ctx context.Context, env primitive.ObjectID, key string) (int64, error) {
	n, err := s.members.CountDocuments(ctx, bson.M{"_environmentId": env, "topicKey": key})
	if err != nil {
		return 0, fmt.Errorf("topic: count members: %w", err)
	}
	return n, nil
}

// Existing returns which of the keys name a topic of the environment, with
// one query for all of them.
func (s *Store) Existing(ctx context.Context, env primitive.ObjectID, keys []string) (map[string]bool, error) {
	out := make(map[string]bool, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	cur, err := s.topics.Find(ctx, bson.M{"_environmentId": env, "key": bson.M{"$in": keys}},
		options.Find().SetProjection(bson.M{"key": 1, "_id": 0}))
	if err != nil {
		return nil, fmt.Errorf("topic: existing: %w", err)
	}
	var docs []struct {
		Key string `bson:"key"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("topic: existing: %w", err)
	}
	for _, d := range docs {
		out[d.Key] = true
	}
	return out, nil
}
