package dashboard

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald/pkg/secret"
)

const (
	sessionCookie = "herald_session"
	loginCookie   = "herald_login_csrf"
	cookiePath    = "/dashboard"
)

// session is what the signed cookie carries.
type session struct {
	EnvironmentID string `json:"e"`
	Expires       int64  `json:"x"`
	Nonce         string `json:"n"`
}

// sessions signs and verifies session cookies and CSRF tokens.
type sessions struct {
	key    []byte
	ttl    time.Duration
	secure bool
	now    func() time.Time
}

func (s *sessions) sign(payload []byte) string {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// encode returns the cookie value for a new session of env.
func (s *sessions) encode(env string) (string, session) {
	ses := session{EnvironmentID: env, Expires: s.now().Add(s.ttl).Unix(), Nonce: secret.RandomHex(16)}
	raw, _ := json.Marshal(ses)
	body := base64.RawURLEncoding.EncodeToString(raw)
	return body + "." + s.sign([]byte(body)), ses
}

var errBadSession = errors.New("invalid or expired session")

// decode verifies a cookie value.
func (s *sessions) decode(v string) (session, error) {
	body, sig, ok := strings.Cut(v, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(s.sign([]byte(body)))) {
		return session{}, errBadSession
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return session{}, errBadSession
	}
	var ses session
	if json.Unmarshal(raw, &ses) != nil || s.now().Unix() >= ses.Expires {
		return session{}, errBadSession
	}
	return ses, nil
}

// csrf is the token every form of a session posts back.
func (s *sessions) csrf(ses session) string {
	return s.sign([]byte("csrf:" + ses.Nonce))
}

func (s *sessions) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: cookiePath, MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode,
	}
}
