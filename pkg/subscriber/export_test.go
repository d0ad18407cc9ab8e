package subscriber

// WithIn returns a copy of s that sends id lists as $in, as on MongoDB.
func WithIn(s *Store) *Store {
	c := *s
	c.scanForIDs = false
	return &c
}
