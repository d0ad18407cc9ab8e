// Package testenv gives tests real backends: FerretDB in-process (PostgreSQL
// backend when PostgreSQL is reachable, a fresh database per test binary;
// otherwise SQLite in a temporary directory) and Redis (REDIS_URL or
// 127.0.0.1:6379, one dedicated logical database per test binary, flushed per
// test). Outside CI a missing Redis falls back to miniredis with a loud log;
// under CI=true a missing backend fails the test.
//
// Packages using it call testenv.Main from TestMain so that resources are
// released when the binary ends.
package testenv
