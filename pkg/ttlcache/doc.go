// Package ttlcache is a small concurrency-safe cache whose entries expire
// after a fixed time. The API uses it so that hot-path lookups (environment
// by API key, workflow by trigger identifier) do not hit the database on
// every request; entries are also invalidated explicitly on change.
package ttlcache
