package delivery

import (
	"encoding/json"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/bson/primitive"
)

// MarshalJSON encodes a trigger task's payload without reflection for its
// common shape (the API encodes one per trigger, on its hot path); what it
// writes decodes exactly as encoding/json's own encoding of the struct.
// RawPayload, when set, is written as the payload verbatim.
func (p TriggerPayload) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 320+len(p.RawPayload))
	b = appendIDField(append(b, '{'), "environmentId", p.EnvironmentID)
	b = appendIDField(append(b, ','), "organizationId", p.OrganizationID)
	b = appendIDField(append(b, ','), "workflowId", p.WorkflowID)
	b = appendJSONString(append(b, `,"transactionId":`...), p.TransactionID)
	b = append(b, `,"to":`...)
	var err error
	if b, err = appendRecipients(b, p.Recipients); err != nil {
		return nil, err
	}
	switch {
	case len(p.RawPayload) > 0:
		b = append(append(b, `,"payload":`...), p.RawPayload...)
	case len(p.Payload) > 0:
		if b, err = appendMarshaled(append(b, `,"payload":`...), p.Payload); err != nil {
			return nil, err
		}
	}
	if len(p.Overrides) > 0 {
		if b, err = appendMarshaled(append(b, `,"overrides":`...), p.Overrides); err != nil {
			return nil, err
		}
	}
	if len(p.Actor) > 0 {
		if b, err = appendMarshaled(append(b, `,"actor":`...), p.Actor); err != nil {
			return nil, err
		}
	}
	if len(p.Tenant) > 0 {
		if b, err = appendMarshaled(append(b, `,"tenant":`...), p.Tenant); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"createdAt":"`...)
	b = append(p.CreatedAt.AppendFormat(b, time.RFC3339Nano), '"')
	if len(p.Topics) > 0 {
		b = append(b, `,"topics":[`...)
		for i, t := range p.Topics {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, t)
		}
		b = append(b, ']')
	}
	if p.Broadcast {
		b = append(b, `,"broadcast":true`...)
	}
	if p.ActorID != "" {
		b = appendJSONString(append(b, `,"actorId":`...), p.ActorID)
	}
	return append(b, '}'), nil
}

func appendIDField(b []byte, name string, id primitive.ObjectID) []byte {
	b = append(append(append(b, '"'), name...), `":"`...)
	return append(append(b, id.Hex()...), '"')
}

// appendRecipients writes plain subscriber ids directly and hands anything
// richer (profiles, channels) to encoding/json.
func appendRecipients(b []byte, rs []Recipient) ([]byte, error) {
	if rs == nil {
		return append(b, "null"...), nil
	}
	for _, r := range rs {
		if r.Profile != nil || len(r.Channels) > 0 {
			return appendMarshaled(b, rs)
		}
	}
	b = append(b, '[')
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendJSONString(append(b, `{"subscriberId":`...), r.SubscriberID), '}')
	}
	return append(b, ']'), nil
}

func appendMarshaled(b []byte, v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, raw...), nil
}

// appendJSONString quotes s; anything but printable ASCII without quotes
// or backslashes goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&' {
			raw, _ := json.Marshal(s)
			return append(b, raw...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}
