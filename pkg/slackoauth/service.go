package slackoauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/environment"
	"github.com/heraldhq/herald/pkg/integration"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/subscriber"
)

// Scope is the only OAuth scope Herald asks for.
const Scope = "incoming-webhook"

// Deps are what a Service needs.
type Deps struct {
	Logger       *slog.Logger
	Store        *store.Store
	Cipher       *secret.Cipher
	Environments *environment.Store
	Integrations *integration.Store
	Subscribers  *subscriber.Store
	// HTTPClient calls Slack's API; it should have a timeout (nil: one
	// with a 10 s timeout).
	HTTPClient *http.Client
	// AuthorizeURL is Slack's authorize page (SLACK_OAUTH_AUTHORIZE_URL).
	AuthorizeURL string
	// APIURL is Slack's Web API base, ending in "/" (SLACK_API_URL).
	APIURL string
	// PublicURL is Herald's public base URL without a trailing slash
	// (HERALD_PUBLIC_URL); redirect_uri and shareable URLs start with it.
	PublicURL string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Service runs the OAuth round trip.
type Service struct {
	log       *slog.Logger
	envs      *environment.Store
	ints      *integration.Store
	subs      *subscriber.Store
	signer    *Signer
	nonces    *nonceStore
	x         exchanger
	authorize string
	publicURL string
	now       func() time.Time
}

// New returns a Service.
func New(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	client := d.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	api := d.APIURL
	if !strings.HasSuffix(api, "/") {
		api += "/"
	}
	return &Service{
		log: d.Logger, envs: d.Environments, ints: d.Integrations, subs: d.Subscribers,
		signer:    NewSigner(d.Cipher.DeriveKey(KeyPurpose)),
		nonces:    &nonceStore{coll: d.Store.C(store.OAuthStates)},
		x:         exchanger{client: client, apiURL: api},
		authorize: d.AuthorizeURL,
		publicURL: strings.TrimRight(d.PublicURL, "/"),
		now:       now,
	}
}

// SubscriberHash is the hmacHash of a shareable URL: lowercase hex
// HMAC-SHA256(key = the environment's API key, message = subscriberId).
func SubscriberHash(apiKey, subscriberID string) string { return secret.HMACHex(apiKey, subscriberID) }

// subscriberPath is the URL path prefix of a subscriber's Slack OAuth routes.
func subscriberPath(subscriberID string) string {
	return "/v1/subscribers/" + url.PathEscape(subscriberID) + "/credentials/slack/oauth"
}

// CallbackURL is the redirect_uri Herald sends to Slack for a subscriber.
func (s *Service) CallbackURL(subscriberID string) string {
	return s.publicURL + subscriberPath(subscriberID) + "/callback"
}

// ShareableURL returns the URL an end user opens to connect Slack to the
// subscriber, with hmacHash computed (always included, so switching HMAC on
// later does not break links already handed out).
func (s *Service) ShareableURL(ctx context.Context, env *environment.Environment, subscriberID, integrationIdentifier string) (string, error) {
	if err := checkSubscriberID(subscriberID); err != nil {
		return "", err
	}
	in, err := s.integration(ctx, env.ID, integrationIdentifier)
	if err != nil {
		return "", err
	}
	key, err := s.envs.PrimaryKey(env)
	if err != nil {
		return "", fmt.Errorf("slackoauth: environment key: %w", err)
	}
	q := url.Values{}
	q.Set("environmentId", env.ID.Hex())
	q.Set("integrationIdentifier", in.Identifier)
	q.Set("hmacHash", SubscriberHash(key, subscriberID))
	return s.publicURL + subscriberPath(subscriberID) + "?" + q.Encode(), nil
}

// StartRequest is the shareable URL's parameters.
type StartRequest struct {
	SubscriberID          string
	EnvironmentID         string
	IntegrationIdentifier string
	HMACHash              string
}

// Start checks the shareable URL and returns Slack's authorize URL with a
// freshly signed state.
func (s *Service) Start(ctx context.Context, r StartRequest) (string, error) {
	env, in, err := s.entry(ctx, r.SubscriberID, r.EnvironmentID, r.IntegrationIdentifier, r.HMACHash)
	if err != nil {
		return "", err
	}
	st := State{
		EnvironmentID: env.ID.Hex(), SubscriberID: r.SubscriberID, IntegrationID: in.ID.Hex(),
		Nonce: secret.RandomHex(16), ExpiresAt: s.now().Add(StateTTL).Unix(),
	}
	u, err := url.Parse(s.authorize)
	if err != nil {
		return "", fmt.Errorf("slackoauth: authorize URL: %w", err)
	}
	q := u.Query()
	q.Set("client_id", in.Credentials.ClientID)
	q.Set("scope", Scope)
	q.Set("redirect_uri", s.CallbackURL(r.SubscriberID))
	q.Set("state", s.signer.Sign(st))
	u.RawQuery = q.Encode()
	s.log.Info("slack oauth started", "environment_id", st.EnvironmentID, "subscriber_id", r.SubscriberID,
		"integration_id", st.IntegrationID)
	return u.String(), nil
}

// CallbackRequest is Slack's redirect back to Herald.
type CallbackRequest struct {
	SubscriberID string // from the path
	State        string
	Code         secret.String
	Error        string // Slack's error parameter, e.g. access_denied
}

// Result is a connected Slack channel.
type Result struct {
	// RedirectURL is the integration's redirectUrl ("" for none).
	RedirectURL string
	TeamName    string
	Channel     string
}

// Callback verifies the state (signature, subscriber, expiry, single use),
// exchanges the code and stores the webhook. Any failure stores nothing.
func (s *Service) Callback(ctx context.Context, r CallbackRequest) (*Result, error) {
	res, err := s.callback(ctx, r)
	s.logOutcome(r.SubscriberID, res, err)
	return res, err
}

func (s *Service) callback(ctx context.Context, r CallbackRequest) (*Result, error) {
	if r.State == "" {
		return nil, fail(ReasonInvalidState, "This link is missing its state parameter. Start again from the app that sent you here.")
	}
	now := s.now()
	st, verr := s.signer.Verify(r.State, now)
	if errors.Is(verr, ErrStateInvalid) || (verr == nil && st.SubscriberID != r.SubscriberID) {
		return nil, fail(ReasonInvalidState, "This link is not valid: it was changed or was not issued by this server. Start again from the app that sent you here.")
	}
	env, in, err := s.stateTargets(ctx, st)
	if err != nil {
		return nil, err
	}
	redirect := in.Credentials.RedirectURL
	if errors.Is(verr, ErrStateExpired) {
		return nil, &Error{Reason: ReasonExpiredState, RedirectURL: redirect,
			Message: "This link has expired (links are valid for 10 minutes). Start again from the app that sent you here."}
	}
	if err := s.nonces.consume(ctx, st, now); err != nil {
		if errors.Is(err, ErrStateReplayed) {
			return nil, &Error{Reason: ReasonReplayedState, RedirectURL: redirect,
				Message: "This link was already used. Start again from the app that sent you here."}
		}
		return nil, err
	}
	if err := s.nonces.sweep(ctx, now); err != nil {
		s.log.Warn("slack oauth: delete expired state nonces", "error", err.Error())
	}
	if err := slackDenied(r.Error); err != nil {
		err.RedirectURL = redirect
		return nil, err
	}
	if r.Code.Empty() {
		return nil, &Error{Reason: ReasonMissingCode, RedirectURL: redirect,
			Message: "Slack did not send an authorization code. Start again from the app that sent you here."}
	}
	if err := usable(in); err != nil {
		err.RedirectURL = redirect
		return nil, err
	}
	return s.complete(ctx, env, in, r.SubscriberID, r.Code, s.CallbackURL(r.SubscriberID))
}

// LegacyRequest is Novu's redirect-style entry: Slack redirecting straight
// to the shareable URL (or Novu's callback URL) with a code and no state.
type LegacyRequest struct {
	StartRequest
	Code  secret.String
	Error string
	// Path and RawQuery are the request's; with the public URL they rebuild
	// the redirect_uri Slack saw, which oauth.v2.access must receive verbatim.
	Path     string
	RawQuery string
}

// LegacyCallback completes a Novu-style round trip. It applies the same
// checks as Start (environment, active integration, HMAC) in place of a state.
func (s *Service) LegacyCallback(ctx context.Context, r LegacyRequest) (*Result, error) {
	res, err := s.legacyCallback(ctx, r)
	s.logOutcome(r.SubscriberID, res, err)
	return res, err
}

func (s *Service) legacyCallback(ctx context.Context, r LegacyRequest) (*Result, error) {
	env, in, err := s.entry(ctx, r.SubscriberID, r.EnvironmentID, r.IntegrationIdentifier, r.HMACHash)
	if err != nil {
		return nil, err
	}
	redirect := in.Credentials.RedirectURL
	if err := slackDenied(r.Error); err != nil {
		err.RedirectURL = redirect
		return nil, err
	}
	if r.Code.Empty() {
		return nil, &Error{Reason: ReasonMissingCode, RedirectURL: redirect,
			Message: "Slack did not send an authorization code. Start again from the app that sent you here."}
	}
	return s.complete(ctx, env, in, r.SubscriberID, r.Code, s.publicURL+r.Path+withoutParams(r.RawQuery, "code", "state", "error"))
}

// complete exchanges the code and stores the webhook.
func (s *Service) complete(ctx context.Context, env *environment.Environment, in *integration.Integration, subscriberID string, code secret.String, redirectURI string) (*Result, error) {
	redirect := in.Credentials.RedirectURL
	clientSecret, err := s.ints.Secret(in)
	if err != nil {
		return nil, fmt.Errorf("slackoauth: decrypt integration secret: %w", err)
	}
	wh, err := s.x.exchange(ctx, in.Credentials.ClientID, clientSecret, code, redirectURI)
	var se *SlackError
	switch {
	case errors.As(err, &se):
		return nil, &Error{Reason: ReasonSlackError, SlackError: se.Code, RedirectURL: redirect, Cause: err,
			Message: "Slack refused the connection (" + se.Code + ")."}
	case err != nil:
		return nil, &Error{Reason: ReasonSlackUnavailable, RedirectURL: redirect, Cause: err,
			Message: "Slack could not be reached to finish the connection. Please try again in a moment."}
	}
	if wh.URL.Empty() || !absoluteHTTP(wh.URL.Reveal()) {
		return nil, &Error{Reason: ReasonNoWebhook, RedirectURL: redirect,
			Message: "Slack did not return an incoming webhook. Choose a channel when Slack asks where to post, then try again."}
	}
	if _, _, err := s.subs.Upsert(ctx, env.ID, env.OrganizationID, subscriberID, subscriber.Profile{}); err != nil {
		return nil, err
	}
	_, err = s.subs.SetCredentials(ctx, env.ID, subscriberID, subscriber.Channel{
		IntegrationID: in.ID, ProviderID: integration.ProviderSlack, IntegrationIdentifier: in.Identifier,
		Credentials: subscriber.Credentials{
			WebhookURL: wh.URL.Reveal(), Channel: wh.Channel, ChannelID: wh.ChannelID,
			TeamID: wh.TeamID, TeamName: wh.TeamName,
		},
	}, false)
	if err != nil {
		return nil, err
	}
	s.log.Info("slack connected", "environment_id", env.ID.Hex(), "subscriber_id", subscriberID,
		"integration_id", in.ID.Hex(), "team_id", wh.TeamID, "channel_id", wh.ChannelID)
	return &Result{RedirectURL: redirect, TeamName: wh.TeamName, Channel: wh.Channel}, nil
}

// entry resolves and checks what a shareable URL names.
func (s *Service) entry(ctx context.Context, subscriberID, environmentID, identifier, hmacHash string) (*environment.Environment, *integration.Integration, error) {
	if err := checkSubscriberID(subscriberID); err != nil {
		return nil, nil, err
	}
	envID, err := primitive.ObjectIDFromHex(environmentID)
	if err != nil {
		return nil, nil, fail(ReasonInvalidRequest, "environmentId must be a valid environment id")
	}
	env, err := s.envs.FindByID(ctx, envID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fail(ReasonEnvironmentNotFound, "Environment "+envID.Hex()+" was not found")
	}
	if err != nil {
		return nil, nil, err
	}
	in, err := s.integration(ctx, env.ID, identifier)
	if err != nil {
		return nil, nil, err
	}
	if in.Credentials.HMAC {
		if hmacHash == "" {
			return nil, nil, fail(ReasonHMACMissing, "Hmac is enabled on the integration, please provide a HMAC hash on the request params")
		}
		keys, err := s.envs.Keys(env)
		if err != nil {
			return nil, nil, fmt.Errorf("slackoauth: environment keys: %w", err)
		}
		ok := false
		for _, k := range keys { // every key, so a rotation does not break links in flight
			if secret.Equal(SubscriberHash(k, subscriberID), strings.ToLower(hmacHash)) {
				ok = true
			}
		}
		if !ok {
			return nil, nil, fail(ReasonHMACInvalid, "Hmac is enabled on the integration, please provide a valid HMAC hash")
		}
	}
	return env, in, nil
}

// integration returns the usable Slack integration with that identifier, or
// the newest one.
func (s *Service) integration(ctx context.Context, envID primitive.ObjectID, identifier string) (*integration.Integration, error) {
	in, err := s.ints.Resolve(ctx, envID, integration.ProviderSlack, identifier, false)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail(ReasonIntegrationNotFound, fmt.Sprintf(
			"Integration in environment %s was not found, channel: chat, providerId: slack", envID.Hex()))
	}
	if err != nil {
		return nil, err
	}
	if err := usable(in); err != nil {
		return nil, err
	}
	return in, nil
}

// stateTargets loads the environment and integration a verified state names.
func (s *Service) stateTargets(ctx context.Context, st State) (*environment.Environment, *integration.Integration, error) {
	envID, err1 := primitive.ObjectIDFromHex(st.EnvironmentID)
	inID, err2 := primitive.ObjectIDFromHex(st.IntegrationID)
	if err1 != nil || err2 != nil {
		return nil, nil, fail(ReasonInvalidState, "This link is not valid. Start again from the app that sent you here.")
	}
	env, err := s.envs.FindByID(ctx, envID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fail(ReasonEnvironmentNotFound, "The environment of this link no longer exists.")
	}
	if err != nil {
		return nil, nil, err
	}
	in, err := s.ints.Get(ctx, env.ID, inID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fail(ReasonIntegrationNotFound, "The Slack integration of this link no longer exists.")
	}
	if err != nil {
		return nil, nil, err
	}
	return env, in, nil
}

func usable(in *integration.Integration) *Error {
	if !in.Active {
		return fail(ReasonIntegrationInactive, fmt.Sprintf("The Slack integration %s is not active", in.Identifier))
	}
	if in.Credentials.ClientID == "" || in.Credentials.SecretKey == "" {
		return fail(ReasonIntegrationIncomplete, fmt.Sprintf("The Slack integration %s has no clientId or secretKey", in.Identifier))
	}
	return nil
}

func slackDenied(code string) *Error {
	switch code {
	case "":
		return nil
	case "access_denied":
		return fail(ReasonAccessDenied, "Slack was not connected: the request was cancelled on Slack. You can close this page, or start again to connect.")
	default:
		c := sanitizeCode(code)
		return &Error{Reason: ReasonSlackError, SlackError: c, Message: "Slack refused the connection (" + c + ")."}
	}
}

func checkSubscriberID(id string) *Error {
	if strings.TrimSpace(id) == "" || len(id) > 256 {
		return fail(ReasonInvalidRequest, "subscriberId must be 1 to 256 characters")
	}
	return nil
}

func absoluteHTTP(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// withoutParams returns "?"+rawQuery without the named parameters, keeping
// the others byte for byte and in order ("" when none is left).
func withoutParams(rawQuery string, names ...string) string {
	var kept []string
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, _, _ := strings.Cut(part, "=")
		if key, err := url.QueryUnescape(k); err == nil {
			k = key
		}
		drop := false
		for _, n := range names {
			if k == n {
				drop = true
			}
		}
		if !drop {
			kept = append(kept, part)
		}
	}
	if len(kept) == 0 {
		return ""
	}
	return "?" + strings.Join(kept, "&")
}

func (s *Service) logOutcome(subscriberID string, _ *Result, err error) {
	var fe *Error
	switch {
	case err == nil:
	case errors.As(err, &fe):
		attrs := []any{"subscriber_id", subscriberID, "reason", string(fe.Reason)}
		if fe.SlackError != "" {
			attrs = append(attrs, "slack_error", fe.SlackError)
		}
		if fe.Cause != nil {
			attrs = append(attrs, "error", fe.Cause.Error())
		}
		s.log.Warn("slack oauth failed", attrs...)
	default:
		s.log.Error("slack oauth failed", "subscriber_id", subscriberID, "error", err.Error())
	}
}
