package retry

import (
	"testing"
	"time"
)

func TestDefaultSchedule(t *testing.T) {
	if Default.MaxRetries() != 8 || Default.Delay(1) != 5*time.Second || Default.Delay(8) != 6*time.Hour || Default.Delay(99) != 6*time.Hour {
		t.Fatalf("default schedule %v", Default)
	}
	var total time.Duration
	for _, d := range Default {
		total += d
	}
	if total < 10*time.Hour || total > 11*time.Hour {
		t.Fatalf("default schedule spans %v", total)
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 0, true},
		{"1s, 2s,3s", 3, true},
		{"1s,nope", 0, false},
		{"-1s", 0, false},
		{"25h", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			s, err := Parse(tc.in)
			if (err == nil) != tc.ok || (tc.ok && len(s) != tc.want) {
				t.Fatalf("Parse(%q) = %v, %v", tc.in, s, err)
			}
		})
	}
	s, _ := Parse(Default.String())
	if s.String() != Default.String() {
		t.Fatalf("round trip %q", s)
	}
}
