// Package slackoauth runs Herald's managed "Add to Slack" OAuth round trip:
// it checks the shareable URL's HMAC, signs and verifies the expiring,
// single-use state that carries the subscriber through Slack's redirect,
// builds Slack's authorize URL, exchanges the returned code at
// oauth.v2.access and stores the incoming webhook (encrypted) as the
// subscriber's Slack credentials for the integration.
//
// The HTTP handlers live in httpapi; this package decides, they render.
package slackoauth
