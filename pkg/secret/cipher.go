package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length in bytes of an encryption key (AES-256).
const KeySize = 32

const cipherPrefix = "enc:v1:"

// ErrNotEncrypted is returned by Decrypt for a value that was not produced by Encrypt.
var ErrNotEncrypted = errors.New("secret: value is not encrypted")

// Cipher encrypts secrets at rest with AES-256-GCM.
type Cipher struct {
	aead cipher.AEAD
	key  []byte
}

// NewCipher returns a Cipher for a 32-byte key.
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret: encryption key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Cipher{aead: aead, key: append([]byte(nil), key...)}, nil
}

// ParseKey decodes a 32-byte key given as 64 hex characters or standard/URL base64.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == KeySize {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("must be %d bytes as 64 hex characters or base64", KeySize)
}

// NewKey returns a random key, hex encoded.
func NewKey() string { return RandomHex(KeySize) }

// Encrypt returns "enc:v1:" followed by base64(nonce | ciphertext). An empty
// plaintext stays empty.
func (c *Cipher) Encrypt(plain string) (string, error) {
	if plain == "" {
		return "", nil
	}
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := c.aead.Seal(nonce, nonce, []byte(plain), nil)
	return cipherPrefix + base64.RawStdEncoding.EncodeToString(sealed), nil
}

// Decrypt reverses Encrypt. An empty value stays empty.
func (c *Cipher) Decrypt(enc string) (string, error) {
	if enc == "" {
		return "", nil
	}
	if !strings.HasPrefix(enc, cipherPrefix) {
		return "", ErrNotEncrypted
	}
	raw, err := base64.RawStdEncoding.DecodeString(enc[len(cipherPrefix):])
	if err != nil {
		return "", fmt.Errorf("secret: corrupt ciphertext: %w", err)
	}
	ns := c.aead.NonceSize()
	if len(raw) < ns {
		return "", errors.New("secret: corrupt ciphertext: too short")
	}
	plain, err := c.aead.Open(nil, raw[:ns], raw[ns:], nil)
	if err != nil {
		return "", errors.New("secret: cannot decrypt (wrong HERALD_ENCRYPTION_KEY?)")
	}
	return string(plain), nil
}

// IsEncrypted reports whether a stored value was produced by Encrypt.
func IsEncrypted(s string) bool { return strings.HasPrefix(s, cipherPrefix) }

// DeriveKey derives a purpose-specific key from the encryption key
// (HMAC-SHA256(key, purpose)), so one configured secret serves several uses
// without reusing key material.
func (c *Cipher) DeriveKey(purpose string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("herald:" + purpose))
	return m.Sum(nil)
}
