// Package faults holds Herald's fault tests: the real API, the real worker
// (in-process or as a separate process), real Redis and FerretDB, and local
// webhook receivers that count every message they get. Each test injects one
// fault (webhook errors, 429, a slow webhook, a killed worker, a restarted
// Redis, an unreachable database) and asserts that every accepted trigger is
// delivered at least once, reporting how many duplicates the receivers saw.
// The figures are quoted in docs/reliability.md. There is no non-test code.
package faults
