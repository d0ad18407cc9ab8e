package slackoauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// StateTTL is how long a signed state stays valid: the time an end user has
// to approve the app on Slack.
const StateTTL = 10 * time.Minute

// KeyPurpose names the key derived from HERALD_ENCRYPTION_KEY that signs states.
const KeyPurpose = "slack-oauth-state"

// State is what Herald carries through Slack's redirect. It is signed, never
// encrypted: it holds ids only, no secrets.
type State struct {
	EnvironmentID string `json:"e"`
	SubscriberID  string `json:"s"`
	IntegrationID string `json:"i"`
	Nonce         string `json:"n"`
	ExpiresAt     int64  `json:"x"` // Unix seconds
}

// Expiry returns the state's expiry time.
func (st State) Expiry() time.Time { return time.Unix(st.ExpiresAt, 0) }

// State verification errors.
var (
	ErrStateInvalid = errors.New("slackoauth: state is malformed or its signature does not match")
	ErrStateExpired = errors.New("slackoauth: state has expired")
)

// Signer signs and verifies states with an HMAC-SHA256 key.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer for key (see KeyPurpose and secret.Cipher.DeriveKey).
func NewSigner(key []byte) *Signer { return &Signer{key: append([]byte(nil), key...)} }

var b64 = base64.RawURLEncoding

// Sign encodes st as base64url(JSON) "." base64url(HMAC).
func (s *Signer) Sign(st State) string {
	raw, _ := json.Marshal(st) // a struct of strings and an int cannot fail
	payload := b64.EncodeToString(raw)
	return payload + "." + b64.EncodeToString(s.mac(payload))
}

// Verify checks the signature first, then the expiry against now. An
// expired state is returned along with ErrStateExpired, since its contents
// are authentic.
func (s *Signer) Verify(token string, now time.Time) (State, error) {
	payload, sig, ok := strings.Cut(token, ".")
	if !ok || payload == "" || sig == "" || len(token) > 2048 {
		return State{}, ErrStateInvalid
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(payload)) {
		return State{}, ErrStateInvalid
	}
	raw, err := b64.DecodeString(payload)
	if err != nil {
		return State{}, ErrStateInvalid
	}
	var st State
	if err := json.Unmarshal(raw, &st); err != nil || st.Nonce == "" || st.SubscriberID == "" ||
		st.EnvironmentID == "" || st.IntegrationID == "" || st.ExpiresAt == 0 {
		return State{}, ErrStateInvalid
	}
	if !now.Before(st.Expiry()) {
		return st, ErrStateExpired
	}
	return st, nil
}

func (s *Signer) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("slack-oauth-state:v1:"))
	m.Write([]byte(payload))
	return m.Sum(nil)
}
