package embedded

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald/pkg/store"
)

// lookupFields are the fields Herald finds single documents by, per
// collection: the attempt record updates a message by _id, the trigger
// loads a subscriber by subscriberId, cancel and the delivery log select by
// transactionId, and so on.
var lookupFields = map[string][]string{
	store.Messages:         {"_id", "transactionId", "_notificationId"},
	store.Notifications:    {"_id", "transactionId"},
	store.Subscribers:      {"_id", "subscriberId"},
	store.TopicSubscribers: {"topicKey", "subscriberId"},
	store.Topics:           {"key"},
}

// TunePostgreSQL makes FerretDB v1 on PostgreSQL answer Herald's lookups
// with an index. FerretDB v1 pushes an equality down to PostgreSQL as
// `_jsonb->'field' @> value`, which its own B-tree indexes cannot serve, so
// every such query — updating a message by _id included — scans the whole
// table. A GIN index on the same expression serves it: on a 20,000-row
// table a lookup goes from about 20 ms to under 1 ms.
//
// It creates those indexes directly in FerretDB's PostgreSQL schema for
// database db (FerretDB does not see them and drops them with the
// collection), for the collections that exist, and returns how many
// indexes are in place. Run it after the collections exist (herald.Open creates them);
// it is idempotent. It is a database tuning for FerretDB-on-PostgreSQL
// deployments (the tests and `make bench`); MongoDB uses Herald's own
// indexes.
func TunePostgreSQL(ctx context.Context, postgresURL, db string) (int, error) {
	conn, err := pgx.Connect(ctx, postgresURL)
	if err != nil {
		return 0, fmt.Errorf("embedded: tune PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	schema := pgx.Identifier{db}.Sanitize()
	rows, err := conn.Query(ctx, `SELECT _jsonb->>'_id', _jsonb->>'table' FROM `+schema+`._ferretdb_database_metadata`)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // no such table: no collection yet
			return 0, nil
		}
		return 0, fmt.Errorf("embedded: tune PostgreSQL: read FerretDB metadata: %w", err)
	}
	tables := map[string]string{}
	for rows.Next() {
		var coll, table string
		if err := rows.Scan(&coll, &table); err != nil {
			rows.Close()
			return 0, fmt.Errorf("embedded: tune PostgreSQL: %w", err)
		}
		tables[coll] = table
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("embedded: tune PostgreSQL: %w", err)
	}
	ensured := 0
	for coll, fields := range lookupFields {
		table, ok := tables[coll]
		if !ok {
			continue
		}
		for _, field := range fields {
			name := pgx.Identifier{table + "_herald_" + strings.TrimPrefix(field, "_")}.Sanitize()
			_, err := conn.Exec(ctx, fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s.%s USING gin ((_jsonb->'%s'))`,
				name, schema, pgx.Identifier{table}.Sanitize(), field))
			if err != nil {
				return ensured, fmt.Errorf("embedded: tune PostgreSQL: index %s.%s: %w", coll, field, err)
			}
			ensured++
		}
	}
	return ensured, nil
}
