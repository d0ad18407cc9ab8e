package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/readpref"
)

// Collection names.
const (
	Environments     = "environments"
	Subscribers      = "subscribers"
	Integrations     = "integrations"
	Workflows        = "workflows"
	Topics           = "topics"
	TopicSubscribers = "topic_subscribers"
	Notifications    = "notifications"
	Messages         = "messages"
	ExecutionDetails = "execution_details"
	Transactions     = "transactions"
	OAuthStates      = "oauth_states"
)

// ErrNotFound is returned by domain stores when a document does not exist.
var ErrNotFound = errors.New("not found")

// Store is a connected database.
type Store struct {
	Client *mongo.Client
	DB     *mongo.Database
	// FerretDB is set when the server is FerretDB (its buildInfo reports a
	// ferretdbVersion). FerretDB v1 pushes only top-level equalities down to
	// its backend and evaluates the rest in Go, comparing a document's field
	// with every element of an $in list: stores with large id lists read the
	// environment and test membership themselves there.
	FerretDB bool
}

// Connect opens a client to uri, pings it and returns the named database.
// extra client options are applied after Herald's defaults (the benchmark
// adds a command monitor with them).
func Connect(ctx context.Context, uri, database string, extra ...*options.ClientOptions) (*Store, error) {
	opts := options.Client().ApplyURI(uri).
		SetConnectTimeout(5 * time.Second).
		SetServerSelectionTimeout(5 * time.Second).
		SetMaxPoolSize(64).
		SetMinPoolSize(2).
		SetRetryWrites(false) // FerretDB v1 does not support retryable writes
	client, err := mongo.Connect(ctx, append([]*options.ClientOptions{opts}, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := client.Ping(pctx, readpref.Primary()); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("ping database: %w", err)
	}
	st := &Store{Client: client, DB: client.Database(database)}
	var info bson.M
	if err := client.Database("admin").RunCommand(pctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err == nil {
		_, st.FerretDB = info["ferretdbVersion"]
	}
	return st, nil
}

// Close disconnects the client.
func (s *Store) Close(ctx context.Context) error { return s.Client.Disconnect(ctx) }

// C returns a collection.
func (s *Store) C(name string) *mongo.Collection { return s.DB.Collection(name) }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.Client.Ping(ctx, readpref.Primary())
}

type index struct {
	collection string
	keys       bson.D
	unique     bool
}

// indexes lists every index Herald needs. Unique indexes enforce the API's
// uniqueness rules; the rest serve the hot lookups.
var indexes = []index{
	{Environments, bson.D{{Key: "apiKeys.hash", Value: 1}}, true},
	{Subscribers, bson.D{{Key: "_environmentId", Value: 1}, {Key: "subscriberId", Value: 1}}, true},
	{Integrations, bson.D{{Key: "_environmentId", Value: 1}, {Key: "identifier", Value: 1}}, true},
	{Workflows, bson.D{{Key: "_environmentId", Value: 1}, {Key: "triggerIdentifier", Value: 1}}, true},
	{Topics, bson.D{{Key: "_environmentId", Value: 1}, {Key: "key", Value: 1}}, true},
	{TopicSubscribers, bson.D{{Key: "_environmentId", Value: 1}, {Key: "topicKey", Value: 1}, {Key: "subscriberId", Value: 1}}, true},
	{Notifications, bson.D{{Key: "_environmentId", Value: 1}, {Key: "createdAt", Value: -1}}, false},
	{Notifications, bson.D{{Key: "_environmentId", Value: 1}, {Key: "transactionId", Value: 1}}, false},
	{Messages, bson.D{{Key: "_environmentId", Value: 1}, {Key: "createdAt", Value: -1}}, false},
	{Messages, bson.D{{Key: "_notificationId", Value: 1}}, false},
	{Messages, bson.D{{Key: "_environmentId", Value: 1}, {Key: "transactionId", Value: 1}}, false},
	{Messages, bson.D{{Key: "_environmentId", Value: 1}, {Key: "subscriberId", Value: 1}}, false},
	{ExecutionDetails, bson.D{{Key: "_notificationId", Value: 1}}, false},
	{Transactions, bson.D{{Key: "_environmentId", Value: 1}, {Key: "transactionId", Value: 1}}, true},
	{OAuthStates, bson.D{{Key: "nonce", Value: 1}}, true},
}

// EnsureIndexes creates every missing index; it is idempotent. Existing
// indexes are listed first and skipped: FerretDB v1 on SQLite fails when asked
// to create an index that already exists.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	existing := map[string]map[string]bool{}
	for _, ix := range indexes {
		names, ok := existing[ix.collection]
		if !ok {
			var err error
			if names, err = s.indexNames(ctx, ix.collection); err != nil {
				return err
			}
			existing[ix.collection] = names
		}
		name := indexName(ix.keys)
		if names[name] {
			continue
		}
		opts := options.Index().SetName(name)
		if ix.unique {
			opts.SetUnique(true)
		}
		if _, err := s.C(ix.collection).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.keys, Options: opts}); err != nil {
			return fmt.Errorf("create index %s on %s: %w", name, ix.collection, err)
		}
		names[name] = true
	}
	return nil
}

func (s *Store) indexNames(ctx context.Context, coll string) (map[string]bool, error) {
	names := map[string]bool{}
	cur, err := s.C(coll).Indexes().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list indexes on %s: %w", coll, err)
	}
	var specs []struct {
		Name string `bson:"name"`
	}
	if err := cur.All(ctx, &specs); err != nil {
		return nil, fmt.Errorf("list indexes on %s: %w", coll, err)
	}
	for _, sp := range specs {
		names[sp.Name] = true
	}
	return names, nil
}

// indexName is MongoDB's default name for an index: field_direction pairs.
func indexName(keys bson.D) string {
	parts := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		parts = append(parts, k.Key, fmt.Sprint(k.Value))
	}
	return strings.Join(parts, "_")
}

// ParseID parses an ObjectId hex string; a malformed id is reported as ErrNotFound,
// since no document can have it.
func ParseID(hex string) (primitive.ObjectID, error) {
	id, err := primitive.ObjectIDFromHex(hex)
	if err != nil {
		return primitive.NilObjectID, ErrNotFound
	}
	return id, nil
}

// Now returns the current time truncated to milliseconds, as BSON stores it.
func Now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// IsDuplicateKey reports whether err is a unique index violation. FerretDB v1
// reports some violations (findAndModify on PostgreSQL or SQLite) as an
// InternalError carrying the backend's message rather than code 11000, so the
// message is checked too.
func IsDuplicateKey(err error) bool {
	if err == nil {
		return false
	}
	if mongo.IsDuplicateKeyError(err) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "duplicate key value violates unique constraint") ||
		strings.Contains(msg, "UNIQUE constraint failed")
}
