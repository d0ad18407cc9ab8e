// Package dashboard is Herald's operations UI, served by the API under
// /dashboard: server-rendered html/template pages (assets embedded, no
// JavaScript build step) for the activity feed, each notification's delivery
// timeline, one-click retry, subscribers and queue health. Operators sign in
// with an environment API key; the session is a signed, expiring, HttpOnly,
// SameSite=Strict cookie and every POST carries a CSRF token.
package dashboard
