package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
)

// Redacted is what a secret prints as, wherever it ends up.
const Redacted = "<secret>"

// String is a secret value. Printing, logging or JSON-encoding it yields
// Redacted; only Reveal returns the value.
type String string

// Reveal returns the secret's value. Call it only where the value is used.
func (s String) Reveal() string { return string(s) }

// String implements fmt.Stringer without revealing the value.
func (s String) String() string { return Redacted }

// GoString implements fmt.GoStringer without revealing the value.
func (s String) GoString() string { return Redacted }

// LogValue implements slog.LogValuer without revealing the value.
func (s String) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON implements json.Marshaler without revealing the value.
func (s String) MarshalJSON() ([]byte, error) { return json.Marshal(Redacted) }

// Empty reports whether the secret has no value.
func (s String) Empty() bool { return s == "" }

// HashAPIKey returns the lookup hash stored for an API key (hex SHA-256).
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Equal compares two strings in constant time.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// HMACHex returns lowercase hex HMAC-SHA256(key, message).
func HMACHex(key, message string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(message))
	return hex.EncodeToString(m.Sum(nil))
}

// RandomHex returns n random bytes, hex encoded.
func RandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("secret: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// MaskURL hides everything in a URL that could grant access: the path is
// reduced to its first segment and a few characters of the second, query and
// user info are dropped. "https://hooks.slack.com/services/T0123/B456/xyz"
// becomes "https://hooks.slack.com/services/T0…/****".
func MaskURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "****"
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	var b strings.Builder
	b.WriteString(u.Scheme + "://" + u.Host)
	if len(segs) > 0 && segs[0] != "" {
		b.WriteString("/" + segs[0])
	}
	if len(segs) > 1 {
		second := segs[1]
		if len(second) > 2 {
			second = second[:2]
		}
		b.WriteString("/" + second + "…")
	}
	b.WriteString("/****")
	return b.String()
}

// Mask hides all but the first four characters of a secret.
func Mask(s string) string {
	if s == "" {
		return ""
	}
	if len(s) <= 8 {
		return "****"
	}
	return s[:4] + "****"
}

// Redact replaces every occurrence of each non-empty secret in text with Redacted.
func Redact(text string, secrets ...string) string {
	for _, s := range secrets {
		if len(s) >= 4 {
			text = strings.ReplaceAll(text, s, Redacted)
		}
	}
	return text
}
