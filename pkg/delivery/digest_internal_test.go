package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// The bucket scripts also run on miniredis (the embedded, dev-mode Redis).
func TestDigestScriptsOnMiniredis(t *testing.T) {
	mr := miniredis.RunT(t)
	mr.SetTime(time.Now())
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	env := primitive.NewObjectID()
	end := time.Now().Add(time.Minute)
	j := digestJoin{EnvironmentID: env, WorkflowID: primitive.NewObjectID(), StepID: primitive.NewObjectID(), SubscriberID: "s1", WindowEnd: end}
	join := func(tx string) string {
		t.Helper()
		res, err := joinScript.Run(ctx, rdb, []string{openKey(j), memberKey(env, tx, "s1")},
			derivedID("digest", openKey(j), tx).Hex(), end.UnixMilli(), tx, `{"transactionId":"`+tx+`"}`,
			end.Add(digestRetention).UnixMilli(), digestPrefix).StringSlice()
		if err != nil || len(res) != 2 {
			t.Fatalf("join %s: %v %v", tx, res, err)
		}
		return res[0]
	}
	b1 := join("t1")
	if join("t2") != b1 || join("t1") != b1 {
		t.Fatal("events of one window must share a bucket")
	}
	if n, _ := rdb.LLen(ctx, digestPrefix+b1+":events").Result(); n != 2 {
		t.Fatalf("a rejoining event was added twice: %d events", n)
	}
	if n, err := leaveScript.Run(ctx, rdb, nil, b1, "t2", digestPrefix).Int(); err != nil || n != 1 {
		t.Fatalf("leave: %d %v", n, err)
	}
	out, err := closeScript.Run(ctx, rdb, nil, b1, digestPrefix).StringSlice()
	if err != nil || len(out) != 2 || out[0] != "t1" {
		t.Fatalf("close: %v %v", out, err)
	}
	if n, _ := leaveScript.Run(ctx, rdb, nil, b1, "t1", digestPrefix).Int(); n != -1 {
		t.Fatalf("leaving a closed bucket: %d", n)
	}
	if b2 := join("t3"); b2 == b1 {
		t.Fatal("an event after the close must open a new bucket")
	}
}
