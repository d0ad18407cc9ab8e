package delivery

// ObserveBatches makes the fan-out report the size of every recipient batch
// to f until the returned function is called.
func ObserveBatches(f func(n int)) (stop func()) {
	batchObserver.Store(&f)
	return func() { batchObserver.Store(nil) }
}
