// Package config reads Herald's configuration from environment variables,
// applies the documented defaults (docs/configuration.md) and validates it,
// reporting every problem at once.
package config
