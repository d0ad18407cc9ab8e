package slackoauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"

	"github.com/heraldhq/herald/pkg/store"
)

// ErrStateReplayed is returned when a state's nonce was already used.
var ErrStateReplayed = errors.New("slackoauth: state was already used")

// nonceStore makes states single use: a nonce is inserted into the
// oauth_states collection, whose unique index on nonce turns a second use
// into a duplicate key error. FerretDB has no TTL indexes, so expired nonces
// (useless: an expired state is refused before its nonce is looked at) are
// deleted on the way.
type nonceStore struct {
	coll *mongo.Collection
}

type nonceDoc struct {
	Nonce         string    `bson:"nonce"`
	EnvironmentID string    `bson:"environmentId"`
	SubscriberID  string    `bson:"subscriberId"`
	ExpiresAt     time.Time `bson:"expiresAt"`
	UsedAt        time.Time `bson:"usedAt"`
}

// consume records the state's nonce as used, or reports ErrStateReplayed.
func (n *nonceStore) consume(ctx context.Context, st State, now time.Time) error {
	_, err := n.coll.InsertOne(ctx, nonceDoc{
		Nonce: st.Nonce, EnvironmentID: st.EnvironmentID, SubscriberID: st.SubscriberID,
		ExpiresAt: st.Expiry().UTC(), UsedAt: now.UTC().Truncate(time.Millisecond),
	})
	if store.IsDuplicateKey(err) {
		return ErrStateReplayed
	}
	if err != nil {
		return fmt.Errorf("slackoauth: record state nonce: %w", err)
	}
	return nil
}

// sweep deletes nonces whose state has expired.
func (n *nonceStore) sweep(ctx context.Context, now time.Time) error {
	_, err := n.coll.DeleteMany(ctx, bson.M{"expiresAt": bson.M{"$lt": now.UTC()}})
	return err
}
