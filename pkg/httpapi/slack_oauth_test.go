package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/heraldhq/herald/pkg/herald/heraldtest"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/slackoauth"
	"github.com/heraldhq/herald/pkg/store"
)

const (
	publicURL    = "https://herald.test"
	clientID     = "1234567890.0987654321"
	clientSecret = "s3cr3t-client-secret-9f8e7d6c"
	goodCode     = "good-code-4b9a1c"
	webhookURL   = "https://hooks.slack.com/services/T9TK3CUKW/B0123ABCD/webhookTokenXyz789"
)

// fakeSlack serves Slack's authorize page (approving or denying at once)
// and oauth.v2.access, and records and checks what it received.
type fakeSlack struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	mode      string // "deny": authorize answers error=access_denied; "nowebhook": no incoming_webhook; "down": 503
	exchanges []url.Values
	authorize []url.Values
}

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/v2/authorize", f.handleAuthorize)
	mux.HandleFunc("POST /api/oauth.v2.access", f.handleAccess)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSlack) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	f.authorize = append(f.authorize, q)
	deny := f.mode == "deny"
	f.mu.Unlock()
	if q.Get("client_id") != clientID || q.Get("scope") != "incoming-webhook" || q.Get("state") == "" ||
		!strings.HasPrefix(q.Get("redirect_uri"), publicURL+"/v1/subscribers/") {
		f.t.Errorf("fake slack: bad authorize request %v", q)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	back := url.Values{"state": {q.Get("state")}}
	if deny {
		back.Set("error", "access_denied")
	} else {
		back.Set("code", goodCode)
	}
	http.Redirect(w, r, q.Get("redirect_uri")+"?"+back.Encode(), http.StatusFound)
}

func (f *fakeSlack) handleAccess(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		f.t.Errorf("fake slack: oauth.v2.access content type %q", ct)
	}
	if err := r.ParseForm(); err != nil {
		f.t.Errorf("fake slack: parse form: %v", err)
	}
	form := r.PostForm
	f.mu.Lock()
	f.exchanges = append(f.exchanges, form)
	noWebhook, down := f.mode == "nowebhook", f.mode == "down"
	f.mu.Unlock()
	if down {
		http.Error(w, "upstream connect error", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if form.Get("client_id") != clientID || form.Get("client_secret") != clientSecret {
		_, _ = io.WriteString(w, `{"ok":false,"error":"invalid_client_id"}`)
		return
	}
	if form.Get("code") != goodCode {
		_, _ = io.WriteString(w, `{"ok":false,"error":"invalid_code"}`)
		return
	}
	hook := fmt.Sprintf(`,"incoming_webhook":{"channel":"#alerts","channel_id":"C0ALERTS","configuration_url":"https://softball.slack.com/services/B0123ABCD","url":%q}`, webhookURL)
	if noWebhook {
		hook = ""
	}
	_, _ = fmt.Fprintf(w, `{"ok":true,"app_id":"A0KRD7HC3","authed_user":{"id":"U1234"},"scope":"incoming-webhook",`+
		`"token_type":"bot","access_token":"xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy","bot_user_id":"U0KRQLJ9H",`+
		`"team":{"id":"T9TK3CUKW","name":"Slack Softball Team"},"enterprise":null,"is_enterprise_install":false%s}`, hook)
}

func (f *fakeSlack) set(mode string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = mode
}

func (f *fakeSlack) exchangeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.exchanges)
}

func (f *fakeSlack) lastExchange() url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.exchanges) == 0 {
		return nil
	}
	return f.exchanges[len(f.exchanges)-1]
}

// oauthEnv boots Herald pointed at the fake, with a Slack integration.
type oauthEnv struct {
	*heraldtest.Env
	slack         *fakeSlack
	integrationID string
	bodies        []string
}

type integrationOpts struct {
	hmac        bool
	redirectURL string
}

func newOAuthEnv(t *testing.T, o integrationOpts) *oauthEnv {
	fake := newFakeSlack(t)
	e := heraldtest.New(t, heraldtest.WithEnv(map[string]string{
		"SLACK_API_URL":             fake.srv.URL + "/api/",
		"SLACK_OAUTH_AUTHORIZE_URL": fake.srv.URL + "/oauth/v2/authorize",
		"HERALD_PUBLIC_URL":         publicURL,
	}))
	cred := map[string]any{"clientId": clientID, "secretKey": clientSecret, "hmac": o.hmac}
	if o.redirectURL != "" {
		cred["redirectUrl"] = o.redirectURL
	}
	r := e.Request("POST", "/v1/integrations", map[string]any{
		"providerId": "slack", "channel": "chat", "active": true, "identifier": "slack-main", "credentials": cred,
	}).Must(t, http.StatusCreated)
	oe := &oauthEnv{Env: e, slack: fake, integrationID: r.Data().(map[string]any)["_id"].(string)}
	oe.bodies = append(oe.bodies, string(r.Body))
	return oe
}

// get fetches a URL (Herald's public URL is mapped to the test server) as a
// browser would, without following redirects.
func (oe *oauthEnv) get(t *testing.T, raw string) *heraldtest.Response {
	t.Helper()
	if strings.HasPrefix(raw, publicURL) {
		raw = oe.URL + strings.TrimPrefix(raw, publicURL)
	} else if strings.HasPrefix(raw, "/") {
		raw = oe.URL + raw
	}
	req, err := http.NewRequest("GET", raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	resp, err := oe.Client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", raw, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	oe.bodies = append(oe.bodies, string(body), resp.Header.Get("Location"))
	return &heraldtest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// api sends an API request and keeps its body for the leak check.
func (oe *oauthEnv) api(method, path string) *heraldtest.Response {
	r := oe.Request(method, path, nil)
	oe.bodies = append(oe.bodies, string(r.Body), r.Header.Get("Location"))
	return r
}

func (oe *oauthEnv) shareableURL(t *testing.T, sub string) string {
	t.Helper()
	r := oe.api("GET", "/v1/subscribers/"+sub+"/credentials/slack/oauth-url").Must(t, http.StatusOK)
	return r.Data().(map[string]any)["url"].(string)
}

// toSlack opens a shareable URL and returns where Herald sends the browser.
func (oe *oauthEnv) toSlack(t *testing.T, shareable string) string {
	t.Helper()
	r := oe.get(t, shareable)
	if r.Status != http.StatusFound {
		t.Fatalf("shareable URL: status %d: %s", r.Status, r.Body)
	}
	return r.Header.Get("Location")
}

// approve runs Slack's authorize step and returns Slack's redirect back.
func (oe *oauthEnv) approve(t *testing.T, authorize string) string {
	t.Helper()
	r := oe.get(t, authorize)
	if r.Status != http.StatusFound {
		t.Fatalf("fake authorize: status %d: %s", r.Status, r.Body)
	}
	return r.Header.Get("Location")
}

// callbackFor starts a round trip for sub and returns Slack's redirect back.
func (oe *oauthEnv) callbackFor(t *testing.T, sub string) string {
	t.Helper()
	return oe.approve(t, oe.toSlack(t, oe.shareableURL(t, sub)))
}

// assertNoLeaks fails if a secret appears in a log line or in any response seen.
func (oe *oauthEnv) assertNoLeaks(t *testing.T) {
	t.Helper()
	logs := oe.Logs.String()
	for name, s := range map[string]string{
		"client secret": clientSecret, "webhook URL": webhookURL, "webhook token": "webhookTokenXyz789",
		"API key": oe.APIKey, "authorization code": goodCode, "access token": "xoxb-17653672481",
	} {
		if strings.Contains(logs, s) {
			t.Errorf("logs reveal the %s", name)
		}
		if name == "authorization code" {
			continue // Slack's redirect back carries the code by design
		}
		for _, b := range oe.bodies {
			if strings.Contains(b, s) {
				t.Errorf("a response reveals the %s: %.300s", name, b)
			}
		}
	}
}

// channels returns the subscriber's channels as the API shows them (nil when
// the subscriber does not exist).
func (oe *oauthEnv) channels(t *testing.T, sub string) []any {
	t.Helper()
	r := oe.api("GET", "/v1/subscribers/"+sub)
	if r.Status == http.StatusNotFound {
		return nil
	}
	r.Must(t, http.StatusOK)
	return r.Data().(map[string]any)["channels"].([]any)
}

func assertPage(t *testing.T, r *heraldtest.Response, status int, contains ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("content type %q", ct)
	}
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("page headers %v", r.Header)
	}
	for _, s := range contains {
		if !strings.Contains(string(r.Body), s) {
			t.Fatalf("page lacks %q: %s", s, r.Body)
		}
	}
}

func TestSlackOAuthRoundTripStoresEncryptedWebhook(t *testing.T) {
	oe := newOAuthEnv(t, integrationOpts{hmac: true})
	const sub = "alice-42"

	shareable := oe.shareableURL(t, sub)
	authorize := oe.toSlack(t, shareable)
	if !strings.HasPrefix(authorize, oe.slack.srv.URL+"/oauth/v2/authorize?") {
		t.Fatalf("redirected to %s", authorize)
	}
	callback := oe.approve(t, authorize)
	wantRedirectURI := publicURL + "/v1/subscribers/" + sub + "/credentials/slack/oauth/callback"
	if !strings.HasPrefix(callback, wantRedirectURI+"?") {
		t.Fatalf("slack redirected back to %s", callback)
	}
	done := oe.get(t, callback)
	assertPage(t, done, http.StatusOK, "Slack is connected", "#alerts", "Slack Softball Team")

	got := oe.slack.lastExchange()
	if oe.slack.exchangeCount() != 1 || got.Get("client_id") != clientID || got.Get("client_secret") != clientSecret ||
		got.Get("code") != goodCode || got.Get("redirect_uri") != wantRedirectURI {
		t.Fatalf("oauth.v2.access received %v (%d calls)", got, oe.slack.exchangeCount())
	}

	// The raw document holds the webhook encrypted, never in plaintext.
	var raw bson.M
	if err := oe.Services.Store.C(store.Subscribers).FindOne(context.Background(),
		bson.M{"_environmentId": oe.Environment.ID, "subscriberId": sub}).Decode(&raw); err != nil {
		t.Fatalf("subscriber document: %v", err)
	}
	doc, _ := bson.MarshalExtJSON(raw, false, false)
	if strings.Contains(string(doc), webhookURL) || strings.Contains(string(doc), "webhookTokenXyz789") {
		t.Fatalf("webhook stored in plaintext: %s", doc)
	}
	stored, err := oe.Services.Subscribers.Get(context.Background(), oe.Environment.ID, sub)
	if err != nil || len(stored.Channels) != 1 {
		t.Fatalf("stored subscriber %+v, %v", stored, err)
	}
	ch := stored.Channels[0]
	if !secret.IsEncrypted(ch.Credentials.WebhookURL) || ch.IntegrationID.Hex() != oe.integrationID ||
		ch.IntegrationIdentifier != "slack-main" || ch.ProviderID != "slack" {
		t.Fatalf("stored channel %+v", ch)
	}
	plain, err := oe.Services.Subscribers.WebhookURL(ch)
	if err != nil || plain.Reveal() != webhookURL {
		t.Fatalf("decrypted webhook %v, %v", plain.Reveal() == webhookURL, err)
	}

	// The API shows it masked, with the channel and team.
	chans := oe.channels(t, sub)
	if len(chans) != 1 {
		t.Fatalf("channels %v", chans)
	}
	cred := chans[0].(map[string]any)["credentials"].(map[string]any)
	if cred["webhookUrl"] != secret.MaskURL(webhookURL) || cred["channel"] != "#alerts" || cred["channelId"] != "C0ALERTS" ||
		cred["teamId"] != "T9TK3CUKW" || cred["teamName"] != "Slack Softball Team" {
		t.Fatalf("credentials shown %v", cred)
	}

	// Opening Slack's redirect again is a replay.
	again := oe.get(t, callback)
	assertPage(t, again, http.StatusBadRequest, "already used", "replayed_state")
	if oe.slack.exchangeCount() != 1 {
		t.Fatalf("replay reached Slack")
	}

	// A following trigger is delivered to the webhook Slack handed over.
	var mu sync.Mutex
	var delivered []string
	oe.StartWorker(map[string]notify.Sender{"slack": notify.SenderFunc(func(ctx context.Context, m notify.Message) (notify.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		delivered = append(delivered, m.WebhookURL.Reveal()+" "+m.Text)
		return notify.Result{StatusCode: 200, Body: "ok"}, nil
	})})
	oe.api2(t, "POST", "/v1/workflows", map[string]any{"name": "Connected", "steps": []any{
		map[string]any{"template": map[string]any{"type": "chat", "content": "Connected, {{name}}!"}},
	}}, 201)
	oe.api2(t, "POST", "/v1/events/trigger", map[string]any{"name": "connected", "to": sub, "payload": map[string]any{"name": "Alice"}}, 201)
	oe.Eventually(10*time.Second, "delivery to the OAuth webhook", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) > 0
	})
	if len(delivered) != 1 || delivered[0] != webhookURL+" Connected, Alice!" {
		t.Fatalf("delivered %d messages; first to the OAuth webhook: %v", len(delivered), len(delivered) > 0 && strings.HasPrefix(delivered[0], webhookURL))
	}
	oe.assertNoLeaks(t)
}

func (oe *oauthEnv) api2(t *testing.T, method, path string, body any, status int) {
	t.Helper()
	oe.Request(method, path, body).Must(t, status)
}

func TestSlackOAuthShareableURLHMAC(t *testing.T) {
	oe := newOAuthEnv(t, integrationOpts{hmac: true})
	const sub = "bob"
	envID := oe.Environment.ID.Hex()
	start := func(hash string) string {
		q := url.Values{"environmentId": {envID}, "integrationIdentifier": {"slack-main"}}
		if hash != "" {
			q.Set("hmacHash", hash)
		}
		return "/v1/subscribers/" + sub + "/credentials/slack/oauth?" + q.Encode()
	}
	cases := []struct {
		name    string
		hash    string
		status  int
		message string
	}{
		{"missing hash", "", 400, "Hmac is enabled on the integration, please provide a HMAC hash on the request params"},
		{"wrong hash", strings.Repeat("ab", 32), 400, "Hmac is enabled on the integration, please provide a valid HMAC hash"},
		{"other subscriber's hash", secret.HMACHex(oe.APIKey, "carol"), 400, "Hmac is enabled on the integration, please provide a valid HMAC hash"},
		{"hash keyed with something else", secret.HMACHex("not-the-api-key", sub), 400, "Hmac is enabled on the integration, please provide a valid HMAC hash"},
		{"right hash", secret.HMACHex(oe.APIKey, sub), 302, ""},
		{"right hash, upper case", strings.ToUpper(secret.HMACHex(oe.APIKey, sub)), 302, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := oe.RequestWithKey("GET", start(tc.hash), nil, "")
			oe.bodies = append(oe.bodies, string(r.Body))
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if tc.status == 302 {
				loc, _ := url.Parse(r.Header.Get("Location"))
				q := loc.Query()
				if loc.Path != "/oauth/v2/authorize" || q.Get("client_id") != clientID || q.Get("scope") != "incoming-webhook" ||
					q.Get("redirect_uri") != publicURL+"/v1/subscribers/"+sub+"/credentials/slack/oauth/callback" || q.Get("state") == "" {
					t.Fatalf("authorize URL %s", loc)
				}
				return
			}
			if m := r.JSON()["message"]; m != tc.message {
				t.Fatalf("message %q, want %q", m, tc.message)
			}
		})
	}
	// A browser gets a page with the same status.
	assertPage(t, oe.get(t, start("")), 400, "Slack was not connected", "hmac_missing")
	if oe.slack.exchangeCount() != 0 || oe.channels(t, sub) != nil {
		t.Fatalf("a refused start stored something")
	}
	oe.assertNoLeaks(t)
}

func TestSlackOAuthStartRefusals(t *testing.T) {
	oe := newOAuthEnv(t, integrationOpts{})
	envID := oe.Environment.ID.Hex()
	cases := []struct {
		name, query string
		status      int
		message     string
	}{
		{"malformed environment id", "environmentId=nope", 400, "environmentId must be a valid environment id"},
		{"unknown environment", "environmentId=64b7f0c2a1b2c3d4e5f60718", 404, "Environment 64b7f0c2a1b2c3d4e5f60718 was not found"},
		{"unknown integration", "environmentId=" + envID + "&integrationIdentifier=nope", 404,
			"Integration in environment " + envID + " was not found, channel: chat, providerId: slack"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := oe.RequestWithKey("GET", "/v1/subscribers/dave/credentials/slack/oauth?"+tc.query, nil, "")
			if r.Status != tc.status || r.JSON()["message"] != tc.message {
				t.Fatalf("got %d %s, want %d %q", r.Status, r.Body, tc.status, tc.message)
			}
		})
	}
	t.Run("inactive integration", func(t *testing.T) {
		oe.Request("PUT", "/v1/integrations/"+oe.integrationID, map[string]any{"active": false}).Must(t, http.StatusOK)
		r := oe.RequestWithKey("GET", "/v1/subscribers/dave/credentials/slack/oauth?environmentId="+envID, nil, "")
		if r.Status != 400 || r.JSON()["message"] != "The Slack integration slack-main is not active" {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
}

func TestSlackOAuthCallbackRefusesBadState(t *testing.T) {
	oe := newOAuthEnv(t, integrationOpts{})
	const sub = "erin"
	callback := oe.callbackFor(t, sub) // a genuine, unused redirect back
	cu, _ := url.Parse(callback)
	state := cu.Query().Get("state")
	payload, sig, _ := strings.Cut(state, ".")

	signer := slackoauth.NewSigner(oe.Services.Cipher.DeriveKey(slackoauth.KeyPurpose))
	expired := signer.Sign(slackoauth.State{
		EnvironmentID: oe.Environment.ID.Hex(), SubscriberID: sub, IntegrationID: oe.integrationID,
		Nonce: "expired-nonce", ExpiresAt: time.Now().Add(-time.Minute).Unix(),
	})
	var claims map[string]any
	raw, _ := base64URLDecode(payload)
	_ = json.Unmarshal(raw, &claims)
	claims["s"] = "mallory"
	forgedRaw, _ := json.Marshal(claims)
	forged := base64URLEncode(forgedRaw) + "." + sig

	path := "/v1/subscribers/" + sub + "/credentials/slack/oauth/callback"
	cases := []struct {
		name, url, text string
	}{
		{"missing state", path + "?code=" + goodCode, "environmentId must be a valid environment id"},
		{"no parameters", path, "missing its state"},
		{"tampered state", path + "?" + url.Values{"code": {goodCode}, "state": {forged}}.Encode(), "invalid_state"},
		{"state signed with another key", path + "?" + url.Values{"code": {goodCode}, "state": {
			slackoauth.NewSigner([]byte("attacker key attacker key attack")).Sign(slackoauth.State{
				EnvironmentID: oe.Environment.ID.Hex(), SubscriberID: sub, IntegrationID: oe.integrationID,
				Nonce: "n", ExpiresAt: time.Now().Add(time.Minute).Unix()})}}.Encode(), "invalid_state"},
		{"expired state", path + "?" + url.Values{"code": {goodCode}, "state": {expired}}.Encode(), "expired_state"},
		{"another subscriber's state", "/v1/subscribers/mallory/credentials/slack/oauth/callback?" +
			url.Values{"code": {goodCode}, "state": {state}}.Encode(), "invalid_state"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertPage(t, oe.get(t, tc.url), http.StatusBadRequest, "Slack was not connected", tc.text)
		})
	}
	if n := oe.slack.exchangeCount(); n != 0 {
		t.Fatalf("%d refused callbacks reached Slack", n)
	}
	for _, s := range []string{sub, "mallory"} {
		if oe.channels(t, s) != nil {
			t.Fatalf("a refused callback created subscriber %s", s)
		}
	}
	// The genuine redirect still works once.
	assertPage(t, oe.get(t, callback), http.StatusOK, "Slack is connected")
	assertPage(t, oe.get(t, callback), http.StatusBadRequest, "replayed_state")
	oe.assertNoLeaks(t)
}

func TestSlackOAuthFailuresStoreNothing(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(*oauthEnv)
		mangle func(string) string
		status int
		text   []string
	}{
		{"access denied on Slack", func(oe *oauthEnv) { oe.slack.set("deny") }, nil, 400,
			[]string{"cancelled on Slack", "access_denied"}},
		{"Slack answers ok:false", nil, func(cb string) string { return strings.Replace(cb, "code="+goodCode, "code=expired-code", 1) },
			400, []string{"Slack refused the connection (invalid_code)", "slack_error"}},
		{"no code", nil, func(cb string) string { return strings.Replace(cb, "code="+goodCode, "", 1) },
			400, []string{"missing_code"}},
		{"grant without incoming webhook", func(oe *oauthEnv) { oe.slack.set("nowebhook") }, nil, 502,
			[]string{"no_webhook"}},
		{"Slack unavailable", func(oe *oauthEnv) { oe.slack.set("down") }, nil, 502,
			[]string{"could not be reached", "slack_unavailable"}},
		{"Slack sends another error", nil, func(cb string) string {
			return strings.Replace(cb, "code="+goodCode, "error=%3Cb%3Einvalid_scope%3C%2Fb%3E", 1)
		}, 400, []string{"(binvalid_scopeb)"}},
		{"integration switched off meanwhile", func(oe *oauthEnv) {
			oe.Request("PUT", "/v1/integrations/"+oe.integrationID, map[string]any{"active": false}).Must(oe.T, http.StatusOK)
		}, nil, 400, []string{"integration_inactive"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			oe := newOAuthEnv(t, integrationOpts{hmac: true})
			const sub = "frank"
			authorize := oe.toSlack(t, oe.shareableURL(t, sub))
			if tc.setup != nil {
				tc.setup(oe)
			}
			callback := oe.approve(t, authorize)
			if tc.mangle != nil {
				callback = tc.mangle(callback)
			}
			r := oe.get(t, callback)
			assertPage(t, r, tc.status, append([]string{"Slack was not connected"}, tc.text...)...)
			if strings.Contains(string(r.Body), "<b>") {
				t.Fatalf("page echoes markup: %s", r.Body)
			}
			if oe.channels(t, sub) != nil {
				t.Fatalf("a failed round trip created the subscriber")
			}
			oe.assertNoLeaks(t)
		})
	}
}

func TestSlackOAuthRedirectURL(t *testing.T) {
	const redirect = "https://app.example.com/settings/slack?tab=alerts"
	cases := []struct {
		name   string
		mode   string
		code   string
		want   url.Values
		stored bool
	}{
		{"success", "", goodCode, url.Values{"tab": {"alerts"}, "status": {"success"}}, true},
		{"access denied", "deny", "", url.Values{"tab": {"alerts"}, "status": {"error"}, "reason": {"access_denied"}}, false},
		{"Slack ok:false", "", "bad-code", url.Values{"tab": {"alerts"}, "status": {"error"}, "reason": {"slack_error"},
			"slack_error": {"invalid_code"}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			oe := newOAuthEnv(t, integrationOpts{redirectURL: redirect})
			const sub = "grace"
			authorize := oe.toSlack(t, oe.shareableURL(t, sub))
			oe.slack.set(tc.mode)
			callback := oe.approve(t, authorize)
			if tc.code != "" {
				callback = strings.Replace(callback, "code="+goodCode, "code="+tc.code, 1)
			}
			r := oe.get(t, callback)
			if r.Status != http.StatusFound {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			loc, _ := url.Parse(r.Header.Get("Location"))
			if loc.Scheme+"://"+loc.Host+loc.Path != "https://app.example.com/settings/slack" || loc.Query().Encode() != tc.want.Encode() {
				t.Fatalf("redirected to %s, want query %s", loc, tc.want.Encode())
			}
			if got := oe.channels(t, sub) != nil; got != tc.stored {
				t.Fatalf("stored = %v, want %v", got, tc.stored)
			}
			// A replayed (signed) callback also goes back to the product.
			again := oe.get(t, callback)
			if l := again.Header.Get("Location"); again.Status != http.StatusFound || !strings.Contains(l, "reason=replayed_state") {
				t.Fatalf("replay: %d %s", again.Status, l)
			}
			oe.assertNoLeaks(t)
		})
	}
}

func TestSlackOAuthURLEndpoint(t *testing.T) {
	oe := newOAuthEnv(t, integrationOpts{hmac: true})
	const sub = "heidi@example.com"
	u, err := url.Parse(oe.shareableURL(t, url.PathEscape(sub)))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme+"://"+u.Host != publicURL || u.Path != "/v1/subscribers/"+sub+"/credentials/slack/oauth" ||
		q.Get("environmentId") != oe.Environment.ID.Hex() || q.Get("integrationIdentifier") != "slack-main" ||
		q.Get("hmacHash") != secret.HMACHex(oe.APIKey, sub) {
		t.Fatalf("shareable URL %s", u)
	}
	// The URL works as handed out.
	if loc := oe.toSlack(t, u.String()); !strings.Contains(loc, "/oauth/v2/authorize?") {
		t.Fatalf("shareable URL led to %s", loc)
	}

	oe.RequestWithKey("GET", "/v1/subscribers/x/credentials/slack/oauth-url", nil, "").Must(t, http.StatusUnauthorized)
	r := oe.api("GET", "/v1/subscribers/x/credentials/slack/oauth-url?integrationIdentifier=nope").Must(t, http.StatusNotFound)
	if !strings.HasPrefix(r.JSON()["message"].(string), "Integration in environment") {
		t.Fatalf("%s", r.Body)
	}
	oe.assertNoLeaks(t)
}

func TestSlackOAuthNovuRedirectStyleEntry(t *testing.T) {
	oe := newOAuthEnv(t, integrationOpts{})
	const sub = "ivan"
	// Novu setups register the shareable URL itself as the Slack app's
	// redirect URL: Slack comes back to it with a code and no state.
	entry := "/v1/subscribers/" + sub + "/credentials/slack/oauth?environmentId=" + oe.Environment.ID.Hex() + "&integrationIdentifier=slack-main"
	r := oe.get(t, entry+"&code="+goodCode)
	assertPage(t, r, http.StatusOK, "Slack is connected")
	if got := oe.slack.lastExchange().Get("redirect_uri"); got != publicURL+entry {
		t.Fatalf("redirect_uri %q, want %q", got, publicURL+entry)
	}
	if len(oe.channels(t, sub)) != 1 {
		t.Fatalf("webhook not stored")
	}

	// With HMAC on, the redirect-style entry needs the hash like the shareable URL.
	oe.Request("PUT", "/v1/integrations/"+oe.integrationID, map[string]any{"credentials": map[string]any{"hmac": true}}).Must(t, http.StatusOK)
	assertPage(t, oe.get(t, "/v1/subscribers/judy/credentials/slack/oauth?environmentId="+oe.Environment.ID.Hex()+"&code="+goodCode),
		http.StatusBadRequest, "hmac_missing")
	if oe.channels(t, "judy") != nil || oe.slack.exchangeCount() != 1 {
		t.Fatalf("refused legacy entry stored or exchanged")
	}
	oe.assertNoLeaks(t)
}

func base64URLDecode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
func base64URLEncode(b []byte) string          { return base64.RawURLEncoding.EncodeToString(b) }
