// Package providers holds Herald's delivery providers, one package each, and
// New, the one registry that builds them from configuration. Providers
// implement notify.Sender from pkg; pkg never imports this module.
package providers
