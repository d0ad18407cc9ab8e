// Package netguard keeps Herald's outbound requests (webhooks, OAuth) from
// being turned against its own network (SSRF): it checks every resolved
// address at dial time — after DNS and on every redirect — and refuses
// loopback, private, link-local, CGNAT, IPv6 ULA and other non-public
// addresses unless a documented development setting allows them.
package netguard
