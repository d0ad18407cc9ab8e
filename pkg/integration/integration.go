package integration

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/ttlcache"
)

// ChannelChat is the only channel Herald delivers to.
const ChannelChat = "chat"

// Provider ids Herald knows.
const (
	ProviderSlack = "slack"
)

// Providers maps each known provider id to its channel.
var providers = map[string]string{ProviderSlack: ChannelChat}

// KnownProvider reports whether id names a provider Herald supports.
func KnownProvider(id string) bool { _, ok := providers[id]; return ok }

// ProviderIDs lists the known provider ids, sorted.
func ProviderIDs() []string {
	ids := make([]string, 0, len(providers))
	for id := range providers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// ErrDuplicateIdentifier is returned when an identifier is already used in the environment.
var ErrDuplicateIdentifier = errors.New("integration identifier already exists")

// Credentials are a provider's settings. SecretKey is stored encrypted.
type Credentials struct {
	ClientID      string `bson:"clientId,omitempty"`
	SecretKey     string `bson:"secretKey,omitempty"`
	ApplicationID string `bson:"applicationId,omitempty"`
	RedirectURL   string `bson:"redirectUrl,omitempty"`
	HMAC          bool   `bson:"hmac"`
}

// Integration is a configured provider of an environment.
type Integration struct {
	ID             primitive.ObjectID `bson:"_id"`
	EnvironmentID  primitive.ObjectID `bson:"_environmentId"`
	OrganizationID primitive.ObjectID `bson:"_organizationId"`
	ProviderID     string             `bson:"providerId"`
	Channel        string             `bson:"channel"`
	Name           string             `bson:"name"`
	Identifier     string             `bson:"identifier"`
	Active         bool               `bson:"active"`
	Credentials    Credentials        `bson:"credentials"`
	CreatedAt      time.Time          `bson:"createdAt"`
	UpdatedAt      time.Time          `bson:"updatedAt"`
}

// Store reads and writes integrations.
type Store struct {
	coll   *mongo.Collection
	cipher *secret.Cipher
	// active caches each environment's active integrations for the worker;
	// this store's writes invalidate it, another process's show within the
	// cache's TTL.
	active *ttlcache.Cache[primitive.ObjectID, []Integration]
}

// NewStore returns a Store whose ActiveCached keeps lists for cacheTTL
// (zero: not cached).
func NewStore(st *store.Store, cipher *secret.Cipher, cacheTTL time.Duration) *Store {
	s := &Store{coll: st.C(store.Integrations), cipher: cipher}
	if cacheTTL > 0 {
		s.active = ttlcache.New[primitive.ObjectID, []Integration](cacheTTL, 10000)
	}
	return s
}

func (s *Store) invalidate(env primitive.ObjectID) {
	if s.active != nil {
		s.active.Delete(env)
	}
}

// ActiveCached is List(env, true), cached: the worker reads it once per
// fan-out. The returned slice is shared: do not modify it.
func (s *Store) ActiveCached(ctx context.Context, env primitive.ObjectID) ([]Integration, error) {
	if s.active != nil {
		if list, ok := s.active.Get(env); ok {
			return list, nil
		}
	}
	list, err := s.List(ctx, env, true)
	if err != nil {
		return nil, err
	}
	if s.active != nil {
		s.active.Set(env, list)
	}
	return list, nil
}

// Secret decrypts the integration's secret key.
func (s *Store) Secret(in *Integration) (secret.String, error) {
	v, err := s.cipher.Decrypt(in.Credentials.SecretKey)
	return secret.String(v), err
}

// NewIdentifier returns a generated identifier for a provider, such as "slack-3fa9c1".
func NewIdentifier(providerID string) string {
	return strings.ToLower(providerID) + "-" + secret.RandomHex(3)
}

// Create stores in; a plaintext secret in in.Credentials.SecretKey is encrypted first.
func (s *Store) Create(ctx context.Context, in *Integration) error {
	enc, err := s.cipher.Encrypt(in.Credentials.SecretKey)
	if err != nil {
		return err
	}
	now := store.Now()
	doc := *in
	doc.ID = primitive.NewObjectID()
	doc.Credentials.SecretKey = enc
	doc.CreatedAt, doc.UpdatedAt = now, now
	if _, err := s.coll.InsertOne(ctx, doc); err != nil {
		if store.IsDuplicateKey(err) {
			return ErrDuplicateIdentifier
		}
		return fmt.Errorf("integration: create: %w", err)
	}
	s.invalidate(doc.EnvironmentID)
	*in = doc
	return nil
}

// Update is a partial update; nil fields are left unchanged.
type Update struct {
	Name          *string
	Identifier    *string
	Active        *bool
	ClientID      *string
	SecretKey     *string // plaintext; an empty string keeps the stored secret
	ApplicationID *string
	RedirectURL   *string
	HMAC          *bool
}

// Update applies u to the integration id of env and returns the result.
func (s *Store) Update(ctx context.Context, env, id primitive.ObjectID, u Update) (*Integration, error) {
	set := bson.M{"updatedAt": store.Now()}
	put := func(k string, v any) { set[k] = v }
	if u.Name != nil {
		put("name", *u.Name)
	}
	if u.Identifier != nil {
		put("identifier", *u.Identifier)
	}
	if u.Active != nil {
		put("active", *u.Active)
	}
	if u.ClientID != nil {
		put("credentials.clientId", *u.ClientID)
	}
	if u.SecretKey != nil && *u.SecretKey != "" {
		enc, err := s.cipher.Encrypt(*u.SecretKey)
		if err != nil {
			return nil, err
		}
		put("credentials.secretKey", enc)
	}
	if u.ApplicationID != nil {
		put("credentials.applicationId", *u.ApplicationID)
	}
	if u.RedirectURL != nil {
		put("credentials.redirectUrl", *u.RedirectURL)
	}
	if u.HMAC != nil {
		put("credentials.hmac", *u.HMAC)
	}
	defer s.invalidate(env)
	var out Integration
	err := s.coll.FindOneAndUpdate(ctx, bson.M{"_id": id, "_environmentId": env}, bson.M{"$set": set},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return nil, store.ErrNotFound
	case store.IsDuplicateKey(err):
		return nil, ErrDuplicateIdentifier
	case err != nil:
		return nil, fmt.Errorf("integration: update: %w", err)
	}
	return &out, nil
}

// Delete removes an integration.
func (s *Store) Delete(ctx context.Context, env, id primitive.ObjectID) error {
	defer s.invalidate(env)
	res, err := s.coll.DeleteOne(ctx, bson.M{"_id": id, "_environmentId": env})
	if err != nil {
		return fmt.Errorf("integration: delete: %w", err)
	}
	if res.DeletedCount == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Get returns one integration.
func (s *Store) Get(ctx context.Context, env, id primitive.ObjectID) (*Integration, error) {
	return s.findOne(ctx, bson.M{"_id": id, "_environmentId": env})
}

// List returns the environment's integrations, newest first; activeOnly filters.
func (s *Store) List(ctx context.Context, env primitive.ObjectID, activeOnly bool) ([]Integration, error) {
	f := bson.M{"_environmentId": env}
	if activeOnly {
		f["active"] = true
	}
	cur, err := s.coll.Find(ctx, f, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}))
	if err != nil {
		return nil, fmt.Errorf("integration: list: %w", err)
	}
	out := []Integration{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("integration: list: %w", err)
	}
	return out, nil
}

// Resolve finds the integration to use for a provider: the one with the given
// identifier when identifier is non-empty, else the newest active one of the
// provider. With activeOnly, an inactive integration is not returned.
func (s *Store) Resolve(ctx context.Context, env primitive.ObjectID, providerID, identifier string, activeOnly bool) (*Integration, error) {
	f := bson.M{"_environmentId": env}
	if providerID != "" {
		f["providerId"] = providerID
	}
	if identifier != "" {
		f["identifier"] = identifier
	}
	if activeOnly {
		f["active"] = true
	}
	return s.findOne(ctx, f)
}

func (s *Store) findOne(ctx context.Context, f bson.M) (*Integration, error) {
	var out Integration
	err := s.coll.FindOne(ctx, f, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("integration: find: %w", err)
	}
	return &out, nil
}
