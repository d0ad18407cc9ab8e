// Package herald assembles Herald's components from configuration: it opens
// the database and Redis, builds the cipher and the domain stores, and
// bootstraps the first environment. The binaries in apps/ call it from their
// internal/app wiring.
package herald
