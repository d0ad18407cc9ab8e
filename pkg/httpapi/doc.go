// Package httpapi is Herald's REST API: Novu v1 compatible routes under /v1,
// the ApiKey authentication, request decoding with size limits, and the one
// error handler that renders every failure in Novu's error shape.
package httpapi
