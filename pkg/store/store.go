package store

import (
	"context"
	"errors"
	"fmt"
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
}

// Connect opens a client to uri, pings it and returns the named database.
func Connect(ctx context.Context, uri, database string) (*Store, error) {
	opts := options.Client().ApplyURI(uri).
		SetConnectTimeout(5 * time.Second).
		SetServerSelectionTimeout(5 * time.Second).
		SetMaxPoolSize(64).
		SetMinPoolSize(2).
		SetRetryWrites(false) // FerretDB v1 does not support retryable writes
	client, err := mongo.Connect(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := client.Ping(pctx, readpref.Primary()); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return &Store{Client: client, DB: client.Database(database)}, nil
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

// EnsureIndexes creates every index; it is idempotent.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	byColl := map[string][]mongo.IndexModel{}
	var order []string
	for _, ix := range indexes {
		if _, ok := byColl[ix.collection]; !ok {
			order = append(order, ix.collection)
		}
		m := mongo.IndexModel{Keys: ix.keys}
		if ix.unique {
			m.Options = options.Index().SetUnique(true)
		}
		byColl[ix.collection] = append(byColl[ix.collection], m)
	}
	for _, c := range order {
		if _, err := s.C(c).Indexes().CreateMany(ctx, byColl[c]); err != nil {
			return fmt.Errorf("create indexes on %s: %w", c, err)
		}
	}
	return nil
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

// IsDuplicateKey reports whether err is a unique index violation.
func IsDuplicateKey(err error) bool { return mongo.IsDuplicateKeyError(err) }
