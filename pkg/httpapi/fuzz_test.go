package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/subscriber"
	"github.com/heraldhq/herald/pkg/testenv"
)

// FuzzTriggerRequest feeds arbitrary bodies through the trigger endpoint's
// decoding and validation (everything before the database and the queue).
// Invariants: no panic; a refused body is a clean 400/413 API error with a
// message; an accepted one has a name, at least one valid recipient, a
// transactionId of 1-256 characters, inline webhooks that decrypt back to a
// URL, and a payload that makes a trigger task.
func FuzzTriggerRequest(f *testing.F) {
	for _, seed := range []string{
		`{"name":"comment-added","to":"ada","payload":{"x":1}}`,
		`{"name":"w","to":["ada",{"subscriberId":"bob","firstName":"Bob","channels":[{"providerId":"slack","credentials":{"webhookUrl":"https://hooks.slack.com/services/T/B/x"}}]}],"transactionId":"tx-1"}`,
		`{"name":"w","to":{"subscriberId":"c","data":{"k":[1,2]}},"overrides":{"slack":{"text":"x"}},"actor":"a","tenant":{"identifier":"t"}}`,
		`{"name":"w","to":[{"type":"Topic","topicKey":"k"}]}`,
		`{"name":"w","to":[],"payload":[]}`,
		`{"name":"","to":null,"transactionId":""}`,
		`{"name":"w","to":[{"subscriberId":"d","channels":[{"providerId":"nope","credentials":{"webhookUrl":"ftp://x"}}]}]}`,
		`{"name":"w","to":" ada "}`,
		`{"name":"w","to":"ada","transactionId":"` + strings.Repeat("x", 300) + `"}`,
		`{"name":1}`, `[]`, `"x"`, `null`, ``, `{`, `{"to":[1,true,null]}`,
		"{\"name\":\"w\",\"to\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	cipher := testenv.Cipher(f)
	s := &Server{Deps: Deps{Cipher: cipher}}
	e := echo.New()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/events/trigger", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		c := e.NewContext(req, httptest.NewRecorder())
		var b triggerBody
		if err := decodeJSON(c, &b); err != nil {
			checkAPIError(t, err, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
			return
		}
		tr, err := s.parseTrigger(&b, false)
		if err != nil {
			checkAPIError(t, err, http.StatusBadRequest)
			return
		}
		if strings.TrimSpace(tr.name) == "" {
			t.Fatalf("accepted without a name: %q", body)
		}
		if len(tr.recipients)+len(tr.topics) == 0 {
			t.Fatalf("accepted without recipients: %q", body)
		}
		if n := len(tr.txID); n == 0 || n > MaxTransactionIDLen || strings.TrimSpace(tr.txID) != tr.txID {
			t.Fatalf("accepted transactionId %q", tr.txID)
		}
		for _, r := range tr.recipients {
			if p := subscriber.ValidateID(r.SubscriberID); len(p) > 0 {
				t.Fatalf("accepted recipient %q: %v", r.SubscriberID, p)
			}
			for _, ch := range r.Channels {
				if ch.WebhookCiphertext == "" {
					continue
				}
				url, err := cipher.Decrypt(ch.WebhookCiphertext)
				if err != nil || !(strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://")) {
					t.Fatalf("inline webhook does not decrypt to an http(s) URL: %q %v", url, err)
				}
			}
		}
		task, err := delivery.NewTriggerTask(delivery.TriggerPayload{
			TransactionID: tr.txID, Recipients: tr.recipients, RawPayload: tr.payload, Overrides: tr.overrides,
		})
		if err != nil {
			t.Fatalf("accepted trigger makes no task: %v", err)
		}
		var back delivery.TriggerPayload
		if err := json.Unmarshal(task.Payload(), &back); err != nil || back.TransactionID != tr.txID || len(back.Recipients) != len(tr.recipients) {
			t.Fatalf("the worker cannot read the task of an accepted trigger: %v: %s", err, task.Payload())
		}
	})
}

// checkAPIError asserts err is an API error with one of the statuses and a
// readable message (never a Go value dump or invalid UTF-8 in JSON).
func checkAPIError(t *testing.T, err error, statuses ...int) {
	t.Helper()
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("not an API error: %T %v", err, err)
	}
	ok := false
	for _, s := range statuses {
		ok = ok || apiErr.Status == s
	}
	if !ok {
		t.Fatalf("status %d, want one of %v: %v", apiErr.Status, statuses, apiErr.Message)
	}
	raw, jerr := json.Marshal(map[string]any{"message": apiErr.Message})
	if jerr != nil || !utf8.Valid(raw) {
		t.Fatalf("message does not render as JSON: %v", jerr)
	}
	switch m := apiErr.Message.(type) {
	case string:
		if m == "" {
			t.Fatal("empty error message")
		}
	case []string:
		if len(m) == 0 {
			t.Fatal("empty problem list")
		}
		for _, p := range m {
			if p == "" {
				t.Fatal("empty problem in list")
			}
		}
	default:
		t.Fatalf("message of type %T", m)
	}
}
