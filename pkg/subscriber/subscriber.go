package subscriber

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/store"
)

// Channel status values.
const (
	StatusConnected      = "connected"
	StatusNeedsReconnect = "needs_reconnect"
)

// Credentials are a subscriber's credentials for one provider integration.
// WebhookURL is stored encrypted.
type Credentials struct {
	WebhookURL   string   `bson:"webhookUrl,omitempty"`
	Channel      string   `bson:"channel,omitempty"`
	DeviceTokens []string `bson:"deviceTokens,omitempty"`
	// Filled by the Slack OAuth flow.
	ChannelID string `bson:"channelId,omitempty"`
	TeamID    string `bson:"teamId,omitempty"`
	TeamName  string `bson:"teamName,omitempty"`
}

// Channel is one (provider, integration) entry of a subscriber.
type Channel struct {
	IntegrationID         primitive.ObjectID `bson:"_integrationId"`
	ProviderID            string             `bson:"providerId"`
	IntegrationIdentifier string             `bson:"integrationIdentifier,omitempty"`
	Credentials           Credentials        `bson:"credentials"`
	Status                string             `bson:"status,omitempty"`
	StatusReason          string             `bson:"statusReason,omitempty"`
	UpdatedAt             time.Time          `bson:"updatedAt"`
}

// Subscriber is a recipient.
type Subscriber struct {
	ID             primitive.ObjectID `bson:"_id"`
	EnvironmentID  primitive.ObjectID `bson:"_environmentId"`
	OrganizationID primitive.ObjectID `bson:"_organizationId"`
	SubscriberID   string             `bson:"subscriberId"`
	FirstName      string             `bson:"firstName,omitempty"`
	LastName       string             `bson:"lastName,omitempty"`
	Email          string             `bson:"email,omitempty"`
	Phone          string             `bson:"phone,omitempty"`
	Avatar         string             `bson:"avatar,omitempty"`
	Locale         string             `bson:"locale,omitempty"`
	Data           map[string]any     `bson:"data,omitempty"`
	Channels       []Channel          `bson:"channels"`
	Version        int64              `bson:"__v"`
	CreatedAt      time.Time          `bson:"createdAt"`
	UpdatedAt      time.Time          `bson:"updatedAt"`
}

// Profile is a partial subscriber: nil fields are not changed.
type Profile struct {
	FirstName *string
	LastName  *string
	Email     *string
	Phone     *string
	Avatar    *string
	Locale    *string
	Data      map[string]any
	HasData   bool
}

func (p Profile) set(m bson.M) {
	str := func(k string, v *string) {
		if v != nil {
			m[k] = *v
		}
	}
	str("firstName", p.FirstName)
	str("lastName", p.LastName)
	str("email", p.Email)
	str("phone", p.Phone)
	str("avatar", p.Avatar)
	str("locale", p.Locale)
	if p.HasData {
		m["data"] = p.Data
	}
}

// Store reads and writes subscribers.
type Store struct {
	coll   *mongo.Collection
	cipher *secret.Cipher
	// scanForIDs: read the environment and keep the ids asked for instead
	// of an $in (see store.Store.FerretDB).
	scanForIDs bool
	// cache, when set (UseCache), serves single-subscriber lookups.
	cache *lookupCache
}

// NewStore returns a Store.
func NewStore(st *store.Store, cipher *secret.Cipher) *Store {
	return &Store{coll: st.C(store.Subscribers), cipher: cipher, scanForIDs: st.FerretDB}
}

// Cipher returns the cipher protecting webhook URLs.
func (s *Store) Cipher() *secret.Cipher { return s.cipher }

func upsertUpdate(org primitive.ObjectID, p Profile) bson.M {
	now := store.Now()
	set := bson.M{"updatedAt": now}
	p.set(set)
	return bson.M{
		"$set": set,
		"$setOnInsert": bson.M{
			"_organizationId": org,
			"channels":        bson.A{},
			"createdAt":       now,
			"__v":             int64(0),
		},
	}
}

// Upsert creates the subscriber or updates the given fields of an existing one.
func (s *Store) Upsert(ctx context.Context, env, org primitive.ObjectID, subscriberID string, p Profile) (*Subscriber, bool, error) {
	filter := bson.M{"_environmentId": env, "subscriberId": subscriberID}
	res, err := s.coll.UpdateOne(ctx, filter, upsertUpdate(org, p), options.Update().SetUpsert(true))
	if err != nil && store.IsDuplicateKey(err) {
		// A concurrent upsert created it first: update it.
		res, err = s.coll.UpdateOne(ctx, filter, upsertUpdate(org, p))
	}
	s.invalidate(ctx, env, subscriberID)
	if err != nil {
		return nil, false, fmt.Errorf("subscriber: upsert: %w", err)
	}
	sub, err := s.Get(ctx, env, subscriberID)
	if err != nil {
		return nil, false, err
	}
	return sub, res.UpsertedCount > 0, nil
}

// BulkItem is one subscriber of a bulk upsert.
type BulkItem struct {
	SubscriberID string
	Profile      Profile
}

// BulkUpsert upserts items in one unordered bulk write and reports, per item
// index, whether it was created. Items that failed are in failed (index → error).
// Which items exist is read first with one $in query: FerretDB v1 reports
// wrong indexes for upserted documents in a bulk write.
func (s *Store) BulkUpsert(ctx context.Context, env, org primitive.ObjectID, items []BulkItem) (created map[int]bool, failed map[int]error, err error) {
	created, failed = map[int]bool{}, map[int]error{}
	if len(items) == 0 {
		return created, failed, nil
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.SubscriberID
	}
	existing, err := s.existingIDs(ctx, env, ids)
	if err != nil {
		return nil, nil, err
	}
	models := make([]mongo.WriteModel, len(items))
	for i, it := range items {
		models[i] = mongo.NewUpdateOneModel().
			SetFilter(bson.M{"_environmentId": env, "subscriberId": it.SubscriberID}).
			SetUpdate(upsertUpdate(org, it.Profile)).
			SetUpsert(true)
	}
	_, err = s.coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	s.invalidate(ctx, env, ids...)
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) {
		for _, we := range bwe.WriteErrors {
			failed[we.Index] = errors.New(we.Message)
		}
		err = nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("subscriber: bulk upsert: %w", err)
	}
	for i, it := range items {
		if failed[i] == nil && !existing[it.SubscriberID] {
			created[i] = true
		}
	}
	return created, failed, nil
}

func (s *Store) existingIDs(ctx context.Context, env primitive.ObjectID, ids []string) (map[string]bool, error) {
	cur, err := s.coll.Find(ctx, bson.M{"_environmentId": env, "subscriberId": bson.M{"$in": ids}},
		options.Find().SetProjection(bson.M{"subscriberId": 1}))
	if err != nil {
		return nil, fmt.Errorf("subscriber: find existing: %w", err)
	}
	var docs []struct {
		SubscriberID string `bson:"subscriberId"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("subscriber: find existing: %w", err)
	}
	out := make(map[string]bool, len(docs))
	for _, d := range docs {
		out[d.SubscriberID] = true
	}
	return out, nil
}

// Update changes the given fields of an existing subscriber.
func (s *Store) Update(ctx context.Context, env primitive.ObjectID, subscriberID string, p Profile) (*Subscriber, error) {
	set := bson.M{"updatedAt": store.Now()}
	p.set(set)
	var out Subscriber
	err := s.coll.FindOneAndUpdate(ctx, bson.M{"_environmentId": env, "subscriberId": subscriberID},
		bson.M{"$set": set, "$inc": bson.M{"__v": 1}}, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out)
	s.invalidate(ctx, env, subscriberID)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("subscriber: update: %w", err)
	}
	return &out, nil
}

// Get returns one subscriber by its external id.
func (s *Store) Get(ctx context.Context, env primitive.ObjectID, subscriberID string) (*Subscriber, error) {
	var out Subscriber
	err := s.coll.FindOne(ctx, bson.M{"_environmentId": env, "subscriberId": subscriberID}).Decode(&out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("subscriber: get: %w", err)
	}
	return &out, nil
}

// GetMany returns the subscribers with the given external ids (one query).
func (s *Store) GetMany(ctx context.Context, env primitive.ObjectID, subscriberIDs []string) ([]Subscriber, error) {
	out := []Subscriber{}
	if len(subscriberIDs) == 0 {
		return out, nil
	}
	if len(subscriberIDs) == 1 {
		one, err := s.getOne(ctx, env, subscriberIDs[0])
		if err != nil {
			return nil, fmt.Errorf("subscriber: get many: %w", err)
		}
		return one, nil
	}
	err := s.stream(ctx, env, subscriberIDs, 0, func(sub Subscriber) error {
		out = append(out, sub)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("subscriber: get many: %w", err)
	}
	return out, nil
}

// stream reads the environment's subscribers (ids nil) or those with the
// given ids in one query and hands each to fn. One id is an equality (which
// FerretDB v1 pushes down to its backend). Several ids are an $in, except on
// FerretDB, which evaluates $in in Go by comparing every subscriber of the
// environment with every id (20,000 × 10,000 comparisons took 13 s): there
// the environment is read and the ids are tested against a set here, with
// only matching documents decoded.
func (s *Store) stream(ctx context.Context, env primitive.ObjectID, ids []string, batch int, fn func(Subscriber) error) error {
	f := bson.M{"_environmentId": env}
	var want map[string]bool
	switch {
	case ids == nil:
	case len(ids) == 1:
		f["subscriberId"] = ids[0]
	case s.scanForIDs:
		want = make(map[string]bool, len(ids))
		for _, id := range ids {
			want[id] = true
		}
	default:
		f["subscriberId"] = bson.M{"$in": ids}
	}
	opts := options.Find()
	if batch > 0 {
		opts.SetBatchSize(int32(batch))
	}
	cur, err := s.coll.Find(ctx, f, opts)
	if err != nil {
		return err
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		if want != nil {
			id, ok := cur.Current.Lookup("subscriberId").StringValueOK()
			if !ok || !want[id] {
				continue
			}
		}
		var sub Subscriber
		if err := cur.Decode(&sub); err != nil {
			return err
		}
		if err := fn(sub); err != nil {
			return err
		}
	}
	return cur.Err()
}

// Delete removes a subscriber.
func (s *Store) Delete(ctx context.Context, env primitive.ObjectID, subscriberID string) error {
	res, err := s.coll.DeleteOne(ctx, bson.M{"_environmentId": env, "subscriberId": subscriberID})
	s.invalidate(ctx, env, subscriberID)
	if err != nil {
		return fmt.Errorf("subscriber: delete: %w", err)
	}
	if res.DeletedCount == 0 {
		return store.ErrNotFound
	}
	return nil
}

// List returns a page of the environment's subscribers in creation order and the total count.
func (s *Store) List(ctx context.Context, env primitive.ObjectID, page, limit int) ([]Subscriber, int64, error) {
	f := bson.M{"_environmentId": env}
	total, err := s.coll.CountDocuments(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("subscriber: count: %w", err)
	}
	cur, err := s.coll.Find(ctx, f, options.Find().
		SetSort(bson.D{{Key: "_id", Value: 1}}).
		SetSkip(int64(page*limit)).SetLimit(int64(limit)))
	if err != nil {
		return nil, 0, fmt.Errorf("subscriber: list: %w", err)
	}
	out := []Subscriber{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, 0, fmt.Errorf("subscriber: list: %w", err)
	}
	return out, total, nil
}

// ErrConflict is returned when a subscriber kept changing under a credentials update.
var ErrConflict = errors.New("subscriber: concurrent update, try again")

// modifyChannels applies fn to the subscriber's channels with optimistic
// concurrency on __v, retrying a few times on a concurrent change.
func (s *Store) modifyChannels(ctx context.Context, env primitive.ObjectID, subscriberID string, fn func(*Subscriber) error) (*Subscriber, error) {
	for attempt := 0; attempt < 5; attempt++ {
		sub, err := s.Get(ctx, env, subscriberID)
		if err != nil {
			return nil, err
		}
		v := sub.Version
		if err := fn(sub); err != nil {
			return nil, err
		}
		now := store.Now()
		sub.UpdatedAt = now
		res, err := s.coll.UpdateOne(ctx, bson.M{"_id": sub.ID, "__v": v},
			bson.M{"$set": bson.M{"channels": sub.Channels, "updatedAt": now}, "$inc": bson.M{"__v": 1}})
		if err != nil || res.MatchedCount == 1 {
			s.invalidate(ctx, env, subscriberID)
		}
		if err != nil {
			return nil, fmt.Errorf("subscriber: update channels: %w", err)
		}
		if res.MatchedCount == 1 {
			sub.Version = v + 1
			return sub, nil
		}
	}
	return nil, ErrConflict
}

// SetCredentials sets the credentials of the (provider, integration) channel,
// creating the channel when missing. With merge, device tokens are added to
// the existing ones and empty fields keep their stored value (PUT); without,
// the credentials replace the stored ones (PATCH). A plaintext webhook URL is
// encrypted here. Setting credentials clears a needs_reconnect status.
func (s *Store) SetCredentials(ctx context.Context, env primitive.ObjectID, subscriberID string, ch Channel, merge bool) (*Subscriber, error) {
	enc, err := s.cipher.Encrypt(ch.Credentials.WebhookURL)
	if err != nil {
		return nil, err
	}
	ch.Credentials.WebhookURL = enc
	ch.Status = StatusConnected
	ch.StatusReason = ""
	ch.UpdatedAt = store.Now()
	return s.modifyChannels(ctx, env, subscriberID, func(sub *Subscriber) error {
		for i := range sub.Channels {
			c := &sub.Channels[i]
			if c.ProviderID != ch.ProviderID || c.IntegrationID != ch.IntegrationID {
				continue
			}
			if merge {
				old := c.Credentials
				nc := ch.Credentials
				if nc.WebhookURL == "" {
					nc.WebhookURL = old.WebhookURL
				}
				if nc.Channel == "" {
					nc.Channel = old.Channel
				}
				nc.DeviceTokens = unionStrings(old.DeviceTokens, nc.DeviceTokens)
				ch.Credentials = nc
			}
			*c = ch
			return nil
		}
		sub.Channels = append(sub.Channels, ch)
		return nil
	})
}

// DeleteCredentials removes every channel of a provider; it reports
// store.ErrNotFound when the subscriber does not exist.
func (s *Store) DeleteCredentials(ctx context.Context, env primitive.ObjectID, subscriberID, providerID, integrationIdentifier string) (*Subscriber, error) {
	return s.modifyChannels(ctx, env, subscriberID, func(sub *Subscriber) error {
		kept := sub.Channels[:0]
		for _, c := range sub.Channels {
			if c.ProviderID == providerID && (integrationIdentifier == "" || c.IntegrationIdentifier == integrationIdentifier) {
				continue
			}
			kept = append(kept, c)
		}
		sub.Channels = kept
		return nil
	})
}

// MarkChannel sets the status of a subscriber's channel for an integration
// (for example needs_reconnect after Slack answered that the webhook is gone).
func (s *Store) MarkChannel(ctx context.Context, env primitive.ObjectID, subscriberID string, integrationID primitive.ObjectID, status, reason string) error {
	_, err := s.modifyChannels(ctx, env, subscriberID, func(sub *Subscriber) error {
		for i := range sub.Channels {
			if sub.Channels[i].IntegrationID == integrationID {
				sub.Channels[i].Status = status
				sub.Channels[i].StatusReason = reason
			}
		}
		return nil
	})
	return err
}

// WebhookURL decrypts a channel's webhook URL.
func (s *Store) WebhookURL(ch Channel) (secret.String, error) {
	v, err := s.cipher.Decrypt(ch.Credentials.WebhookURL)
	return secret.String(v), err
}

func unionStrings(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, list := range [][]string{a, b} {
		for _, v := range list {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// Stream reads the environment's subscribers with one cursor and hands them
// to fn in batches of at most batch. With ids it reads only those
// subscribers (one query, see stream), else every subscriber of the
// environment. Only one batch is held at a time. On FerretDB v1, which
// decodes every document the environment equality matched whatever else
// the filter says, one streamed query costs one pass over the environment
// where a query per batch would cost one pass per batch.
func (s *Store) Stream(ctx context.Context, env primitive.ObjectID, ids []string, batch int, fn func([]Subscriber) error) error {
	if batch < 1 {
		return fmt.Errorf("subscriber: stream: batch must be positive, got %d", batch)
	}
	if ids != nil && len(ids) == 0 {
		return nil
	}
	buf := make([]Subscriber, 0, batch)
	err := s.stream(ctx, env, ids, batch, func(sub Subscriber) error {
		buf = append(buf, sub)
		if len(buf) < batch {
			return nil
		}
		full := buf
		buf = make([]Subscriber, 0, batch)
		return fn(full)
	})
	if err != nil {
		return fmt.Errorf("subscriber: stream: %w", err)
	}
	if len(buf) > 0 {
		return fn(buf)
	}
	return nil
}
