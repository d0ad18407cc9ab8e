package delivery

import "context"

// ObserveBatches makes the fan-out report the size of every recipient batch
// to f until the returned function is called.
func ObserveBatches(f func(n int)) (stop func()) {
	batchObserver.Store(&f)
	return func() { batchObserver.Store(nil) }
}

// AsRerun marks ctx as the context of a task that ran before.
func AsRerun(ctx context.Context) context.Context { return context.WithValue(ctx, rerunKey{}, true) }
