// Package environment stores Herald's environments (tenants) and their API
// keys. A key is stored twice: as a SHA-256 lookup hash, and encrypted, because
// the plaintext is needed as the HMAC key of the Slack shareable URL.
package environment
