package delivery

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// DeleteByTransaction removes every message of a transaction and reports how many.
func (l *Log) DeleteByTransaction(ctx context.Context, env primitive.ObjectID, transactionID string) (int64, error) {
	res, err := l.messages.DeleteMany(ctx, bson.M{"_environmentId": env, "transactionId": transactionID})
	if err != nil {
		return 0, fmt.Errorf("delivery: delete messages: %w", err)
	}
	return res.DeletedCount, nil
}
