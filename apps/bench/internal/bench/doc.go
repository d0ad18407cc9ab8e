// Package bench measures Herald against the limits of the machine it runs
// on: the trigger API against a bare enqueue endpoint, end-to-end delivery
// against asynq processing no-op tasks, a 20,000-subscriber topic fan-out
// against a bare asynq + HTTP fan-out, and the delivery log's database write
// time against a bare batched insert. Every figure is measured in the same
// run as its limit.
package bench
