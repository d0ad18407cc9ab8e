// Package secret holds Herald's secret-handling primitives: a string type that
// never prints its value, AES-256-GCM encryption for secrets at rest, API key
// hashing and the masking used in API responses and the dashboard.
package secret
