package secret

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestStringNeverPrints(t *testing.T) {
	s := String("xoxb-very-secret")
	var b strings.Builder
	logger := slog.New(slog.NewJSONHandler(&b, nil))
	logger.Info("msg", "token", s)
	raw, _ := json.Marshal(map[string]any{"t": s})
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", s), "String": s.String(), "%#v": fmt.Sprintf("%#v", s),
		"slog": b.String(), "json": string(raw), "error": fmt.Errorf("wrap: %v", s).Error(),
	} {
		if strings.Contains(out, "very-secret") {
			t.Errorf("%s reveals the secret: %s", name, out)
		}
	}
	if s.Reveal() != "xoxb-very-secret" {
		t.Fatal("Reveal lost the value")
	}
}

func TestCipherRoundTrip(t *testing.T) {
	key, err := ParseKey(NewKey())
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	const plain = "https://hooks.slack.com/services/T1/B2/xyz"
	a, _ := c.Encrypt(plain)
	b, _ := c.Encrypt(plain)
	if a == b {
		t.Fatal("encryption is deterministic: nonces reused")
	}
	if strings.Contains(a, "hooks") || !IsEncrypted(a) {
		t.Fatalf("ciphertext %q", a)
	}
	got, err := c.Decrypt(a)
	if err != nil || got != plain {
		t.Fatalf("Decrypt = %q, %v", got, err)
	}
	other, _ := NewCipher(make([]byte, KeySize))
	if _, err := other.Decrypt(a); err == nil {
		t.Fatal("decrypted with the wrong key")
	}
	tampered := a[:len(a)-2] + "AA"
	if _, err := c.Decrypt(tampered); err == nil {
		t.Fatal("tampered ciphertext accepted")
	}
	if _, err := c.Decrypt("plain"); err != ErrNotEncrypted {
		t.Fatalf("plain value: %v", err)
	}
	if e, _ := c.Encrypt(""); e != "" {
		t.Fatal("empty plaintext should stay empty")
	}
	if string(c.DeriveKey("a")) == string(c.DeriveKey("b")) {
		t.Fatal("derived keys do not depend on purpose")
	}
}

func TestParseKey(t *testing.T) {
	for _, good := range []string{strings.Repeat("ab", 32), "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="} {
		if _, err := ParseKey(good); err != nil {
			t.Errorf("ParseKey(%q): %v", good, err)
		}
	}
	for _, bad := range []string{"", "short", strings.Repeat("ab", 31)} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func TestMaskURL(t *testing.T) {
	cases := map[string]string{
		"https://hooks.slack.com/services/T0123/B456/xyz": "https://hooks.slack.com/services/T0…/****",
		"https://example.com/hook?token=abc":              "https://example.com/hook/****",
		"https://user:pw@example.com/a/b":                 "https://example.com/a/b…/****",
		"":                                                "",
		"not a url":                                       "****",
	}
	for in, want := range cases {
		if got := MaskURL(in); got != want {
			t.Errorf("MaskURL(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Redact("posting to https://x/secret-path failed", "https://x/secret-path"); strings.Contains(got, "secret-path") {
		t.Fatalf("Redact: %s", got)
	}
	// RFC 4231-style known vector (HMAC-SHA256, key "key").
	if HMACHex("key", "The quick brown fox jumps over the lazy dog") != "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8" || !Equal("a", "a") || Equal("a", "b") {
		t.Fatal("HMACHex/Equal")
	}
}
