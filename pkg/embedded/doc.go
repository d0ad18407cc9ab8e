// Package embedded starts Herald's in-process backends for the zero-setup
// default and for tests: FerretDB (MongoDB wire protocol on SQLite or
// PostgreSQL) and miniredis. Production binaries never import it.
package embedded
