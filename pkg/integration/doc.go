// Package integration stores an environment's provider integrations (for
// example a Slack app's client id and secret). Secrets are encrypted at rest.
package integration
