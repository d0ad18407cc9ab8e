package environment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/heraldhq/herald/pkg/retry"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/ttlcache"
)

// DevelopmentName is the name of the environment the standalone bootstraps.
const DevelopmentName = "Development"

// APIKey is one key of an environment.
type APIKey struct {
	Hash      string    `bson:"hash"`
	Encrypted string    `bson:"key"`
	CreatedAt time.Time `bson:"createdAt"`
}

// Environment is a tenant: every other document belongs to one.
type Environment struct {
	ID             primitive.ObjectID `bson:"_id"`
	OrganizationID primitive.ObjectID `bson:"_organizationId"`
	Name           string             `bson:"name"`
	Identifier     string             `bson:"identifier"`
	APIKeys        []APIKey           `bson:"apiKeys"`
	// Delivery policy overrides; empty means the process-wide setting.
	Policy    Policy    `bson:"policy,omitempty"`
	CreatedAt time.Time `bson:"createdAt"`
	UpdatedAt time.Time `bson:"updatedAt"`
}

// Policy is an environment's delivery policy. Nil fields fall back to the
// configuration (HERALD_RETRY_SCHEDULE, HERALD_TRIGGER_RATE_LIMIT).
type Policy struct {
	// RetrySchedule is the wait before each retry of a transient delivery
	// failure, as Go durations ("5s", "2m"); an empty, non-nil list means no retries.
	RetrySchedule []string `bson:"retrySchedule,omitempty"`
	// HasRetrySchedule distinguishes "no retries" from "not set".
	HasRetrySchedule bool `bson:"hasRetrySchedule,omitempty"`
	// TriggerRateLimit is a rate such as "100/s" or "off".
	TriggerRateLimit string `bson:"triggerRateLimit,omitempty"`
}

// RetrySchedule returns the environment's retry schedule, or def when it has none.
func (e *Environment) RetrySchedule(def retry.Schedule) retry.Schedule {
	if !e.Policy.HasRetrySchedule {
		return def
	}
	s, err := retry.FromStrings(e.Policy.RetrySchedule)
	if err != nil {
		return def
	}
	return s
}

// SetPolicy replaces the environment's delivery policy. Cached copies in
// other processes follow within the cache TTL.
func (s *Store) SetPolicy(ctx context.Context, id primitive.ObjectID, p Policy) (*Environment, error) {
	var env Environment
	err := s.coll.FindOneAndUpdate(ctx, bson.M{"_id": id},
		bson.M{"$set": bson.M{"policy": p, "updatedAt": store.Now()}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&env)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("environment: set policy: %w", err)
	}
	s.byID.Set(id, &env)
	for _, k := range env.APIKeys {
		s.byHash.Set(k.Hash, &env)
	}
	return &env, nil
}

// Store reads and writes environments, caching lookups by API key.
type Store struct {
	coll   *mongo.Collection
	cipher *secret.Cipher
	byHash *ttlcache.Cache[string, *Environment]
	byID   *ttlcache.Cache[primitive.ObjectID, *Environment]
}

// NewStore returns a Store; cacheTTL bounds how long a looked-up environment is reused.
func NewStore(st *store.Store, cipher *secret.Cipher, cacheTTL time.Duration) *Store {
	return &Store{
		coll:   st.C(store.Environments),
		cipher: cipher,
		byHash: ttlcache.New[string, *Environment](cacheTTL, 10000),
		byID:   ttlcache.New[primitive.ObjectID, *Environment](cacheTTL, 10000),
	}
}

// NewAPIKey returns a fresh random API key.
func NewAPIKey() string { return secret.RandomHex(24) }

// Create stores a new environment with the given API key (a random one when empty)
// and returns it with the plaintext key.
func (s *Store) Create(ctx context.Context, name, key string) (*Environment, string, error) {
	if key == "" {
		key = NewAPIKey()
	}
	enc, err := s.cipher.Encrypt(key)
	if err != nil {
		return nil, "", err
	}
	now := store.Now()
	env := &Environment{
		ID:             primitive.NewObjectID(),
		OrganizationID: primitive.NewObjectID(),
		Name:           name,
		Identifier:     secret.RandomHex(6),
		APIKeys:        []APIKey{{Hash: secret.HashAPIKey(key), Encrypted: enc, CreatedAt: now}},
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	if _, err := s.coll.InsertOne(ctx, env); err != nil {
		if store.IsDuplicateKey(err) {
			return nil, "", errors.New("environment: this API key is already used by another environment")
		}
		return nil, "", fmt.Errorf("environment: create: %w", err)
	}
	return env, key, nil
}

// Bootstrap returns the environment named name, creating it with key (or a
// random key) when it does not exist. created tells whether it was created;
// the plaintext key is returned only then.
func (s *Store) Bootstrap(ctx context.Context, name, key string) (env *Environment, plainKey string, created bool, err error) {
	env, err = s.FindByName(ctx, name)
	if err == nil {
		return env, "", false, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, "", false, err
	}
	env, plainKey, err = s.Create(ctx, name, key)
	if err != nil {
		return nil, "", false, err
	}
	return env, plainKey, true, nil
}

// FindByName returns the oldest environment with that name.
func (s *Store) FindByName(ctx context.Context, name string) (*Environment, error) {
	var env Environment
	err := s.coll.FindOne(ctx, bson.M{"name": name}, options.FindOne().SetSort(bson.D{{Key: "_id", Value: 1}})).Decode(&env)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("environment: find: %w", err)
	}
	return &env, nil
}

// FindByID returns an environment by id (cached).
func (s *Store) FindByID(ctx context.Context, id primitive.ObjectID) (*Environment, error) {
	if env, ok := s.byID.Get(id); ok {
		return env, nil
	}
	var env Environment
	err := s.coll.FindOne(ctx, bson.M{"_id": id}).Decode(&env)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("environment: find: %w", err)
	}
	s.byID.Set(id, &env)
	return &env, nil
}

// FindByAPIKey returns the environment owning key (cached). The key is looked
// up by its hash and the hash compared in constant time.
func (s *Store) FindByAPIKey(ctx context.Context, key string) (*Environment, error) {
	hash := secret.HashAPIKey(key)
	if env, ok := s.byHash.Get(hash); ok {
		return env, nil
	}
	var env Environment
	err := s.coll.FindOne(ctx, bson.M{"apiKeys.hash": hash}).Decode(&env)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("environment: find by key: %w", err)
	}
	match := false
	for _, k := range env.APIKeys {
		if secret.Equal(k.Hash, hash) {
			match = true
		}
	}
	if !match {
		return nil, store.ErrNotFound
	}
	s.byHash.Set(hash, &env)
	s.byID.Set(env.ID, &env)
	return &env, nil
}

// Keys decrypts the environment's API keys.
func (s *Store) Keys(env *Environment) ([]string, error) {
	keys := make([]string, 0, len(env.APIKeys))
	for _, k := range env.APIKeys {
		plain, err := s.cipher.Decrypt(k.Encrypted)
		if err != nil {
			return nil, err
		}
		keys = append(keys, plain)
	}
	return keys, nil
}

// PrimaryKey decrypts the environment's first API key, the HMAC key of its
// shareable URLs.
func (s *Store) PrimaryKey(env *Environment) (string, error) {
	keys, err := s.Keys(env)
	if err != nil {
		return "", err
	}
	if len(keys) == 0 {
		return "", errors.New("environment has no API key")
	}
	return keys[0], nil
}
