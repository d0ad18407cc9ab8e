package delivery_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/delivery"
)

// plain is TriggerPayload without its MarshalJSON: encoding/json's own encoding.
type plain delivery.TriggerPayload

// The hand-written trigger task encoding is byte for byte what
// encoding/json writes for the struct, for every shape of trigger.
func TestTriggerPayloadJSON(t *testing.T) {
	name := "Ada"
	at := time.Date(2026, 12, 1, 17, 4, 5, 123456000, time.UTC)
	base := delivery.TriggerPayload{
		EnvironmentID: primitive.NewObjectID(), OrganizationID: primitive.NewObjectID(), WorkflowID: primitive.NewObjectID(),
		TransactionID: "tx-1", CreatedAt: at,
	}
	cases := map[string]func(p *delivery.TriggerPayload){
		"no recipients":    func(p *delivery.TriggerPayload) {},
		"empty recipients": func(p *delivery.TriggerPayload) { p.Recipients = []delivery.Recipient{} },
		"ids": func(p *delivery.TriggerPayload) {
			p.Recipients = []delivery.Recipient{{SubscriberID: "a"}, {SubscriberID: `q"uote\back<html>&`}, {SubscriberID: "ünï\u2028\x01"}}
		},
		"profiles and channels": func(p *delivery.TriggerPayload) {
			p.Recipients = []delivery.Recipient{{SubscriberID: "a"}, {SubscriberID: "b", Profile: &delivery.Profile{FirstName: &name, Data: map[string]any{"k": 1.5}, HasData: true},
				Channels: []delivery.InlineChannel{{ProviderID: "slack", WebhookCiphertext: "enc"}}}}
		},
		"everything": func(p *delivery.TriggerPayload) {
			p.Recipients = []delivery.Recipient{{SubscriberID: "a"}}
			p.Payload = map[string]any{"z": []any{1.0, "two", nil}, "a": map[string]any{"nested": true}, "html": "<b>&</b>"}
			p.Overrides = map[string]any{"slack": map[string]any{"text": "x"}}
			p.Actor = json.RawMessage(` { "subscriberId" : "actor" } `)
			p.Tenant = json.RawMessage(`"t1"`)
			p.Topics = []string{"t-a", "t\"b"}
			p.ActorID = "actor"
		},
		"broadcast":  func(p *delivery.TriggerPayload) { p.Broadcast = true; p.TransactionID = "" },
		"empty maps": func(p *delivery.TriggerPayload) { p.Payload = map[string]any{}; p.Overrides = map[string]any{} },
		"zero time":  func(p *delivery.TriggerPayload) { p.CreatedAt = time.Time{} },
	}
	for name, edit := range cases {
		p := base
		edit(&p)
		got, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := json.Marshal(plain(p))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}

	// A raw payload is carried verbatim and decodes like the map it stands for.
	p := base
	p.RawPayload = json.RawMessage(`{"seq": 7, "user": {"name": "Ada"}}`)
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back delivery.TriggerPayload
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	want := map[string]any{"seq": 7.0, "user": map[string]any{"name": "Ada"}}
	if !reflect.DeepEqual(back.Payload, want) || back.TransactionID != "tx-1" || !back.CreatedAt.Equal(at) || back.EnvironmentID != p.EnvironmentID {
		t.Fatalf("decoded %+v from %s", back, raw)
	}
}
