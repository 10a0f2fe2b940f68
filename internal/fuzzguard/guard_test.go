package fuzzguard

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB whose Fatal records instead of stopping.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Fatal(args ...any)         { r.msg = fmt.Sprint(args...) }
func (r *recorder) Fatalf(f string, a ...any) { r.msg = fmt.Sprintf(f, a...) }

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
		want string
	}{
		{"returns", func() {}, ""},
		{"loops", func() { time.Sleep(time.Second) }, "did not finish within 20ms"},
		{"panics", func() { panic("boom") }, "panic: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			Within(r, 20*time.Millisecond, tc.f)
			if (tc.want == "") != (r.msg == "") || !strings.Contains(r.msg, tc.want) {
				t.Fatalf("Within failed with %q, want %q", r.msg, tc.want)
			}
		})
	}
}
