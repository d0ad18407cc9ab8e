package embedded_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/embedded"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/testenv"
)

// TunePostgreSQL puts GIN indexes under FerretDB's tables that PostgreSQL
// chooses for the equality FerretDB pushes down, and FerretDB keeps working.
func TestTunePostgreSQL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := os.Getenv("HERALD_TEST_POSTGRES_URL")
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		if testenv.InCI() {
			t.Fatalf("PostgreSQL unreachable under CI: %v", err)
		}
		t.Skipf("SKIP (loud): PostgreSQL unreachable: %v", err)
	}
	name := fmt.Sprintf("herald_tune_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, admin); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = c.Close(ctx)
		}
	})
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	pgURL := u.String()

	if n, err := embedded.TunePostgreSQL(ctx, pgURL, "herald"); err != nil || n != 0 {
		t.Fatalf("before any collection: %d %v", n, err)
	}
	f, err := embedded.StartFerretDB(embedded.FerretDBOptions{PostgreSQLURL: pgURL})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := store.Connect(ctx, f.URI(), "herald")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	if err := st.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 5000
	docs := make([]any, n)
	ids := make([]primitive.ObjectID, n)
	for i := range docs {
		ids[i] = primitive.NewObjectID()
		docs[i] = bson.M{"_id": ids[i], "transactionId": fmt.Sprintf("tx-%d", i), "status": "pending"}
	}
	if _, err := st.C(store.Messages).InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	ensured, err := embedded.TunePostgreSQL(ctx, pgURL, "herald")
	if err != nil || ensured < 3 {
		t.Fatalf("tune: %d indexes, %v", ensured, err)
	}
	if again, err := embedded.TunePostgreSQL(ctx, pgURL, "herald"); err != nil || again != ensured {
		t.Fatalf("second run: %d %v", again, err)
	}

	pg, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	var table string
	if err := pg.QueryRow(ctx, `SELECT _jsonb->>'table' FROM herald._ferretdb_database_metadata WHERE _jsonb->>'_id' = 'messages'`).Scan(&table); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.Exec(ctx, `ANALYZE herald.`+pgx.Identifier{table}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	// The statement shape FerretDB v1 sends for {_id: X}: key and value as parameters.
	var idJSON string
	if err := pg.QueryRow(ctx, `SELECT (_jsonb->'_id')::text FROM herald.`+pgx.Identifier{table}.Sanitize()+` LIMIT 1`).Scan(&idJSON); err != nil {
		t.Fatal(err)
	}
	rows, err := pg.Query(ctx, `EXPLAIN SELECT _jsonb FROM herald.`+pgx.Identifier{table}.Sanitize()+` WHERE _jsonb->$1 @> $2::jsonb`, "_id", idJSON)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		_ = rows.Scan(&line)
		plan = append(plan, line)
	}
	rows.Close()
	if !strings.Contains(strings.Join(plan, "\n"), "_herald_id") {
		t.Fatalf("the _id lookup does not use the index:\n%s", strings.Join(plan, "\n"))
	}

	// FerretDB still finds and updates through the indexed tables.
	res, err := st.C(store.Messages).UpdateOne(ctx, bson.M{"_id": ids[4321]}, bson.M{"$set": bson.M{"status": "sent"}})
	if err != nil || res.MatchedCount != 1 {
		t.Fatalf("update by _id: %+v %v", res, err)
	}
	var got bson.M
	if err := st.C(store.Messages).FindOne(ctx, bson.M{"transactionId": "tx-4321"}).Decode(&got); err != nil || got["status"] != "sent" {
		t.Fatalf("find by transactionId: %v %v", got, err)
	}
}
