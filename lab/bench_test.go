package lab_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/estab/estab/lab"
	"github.com/estab/estab/lab/labtest"
)

// BenchmarkUpDown measures Up and Down of lab.Mixed(n):
//
//	go test -run '^$' -bench UpDown -benchtime 3x ./lab/
func BenchmarkUpDown(b *testing.B) {
	labtest.RequireRoot(b)
	for _, n := range []int{5, 20} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			var up, down time.Duration
			for b.Loop() {
				start := time.Now()
				l, err := lab.Up(context.Background(), lab.Options{Dir: dir, Prefix: "lbb", Hosts: lab.Mixed(n)})
				if err != nil {
					b.Fatal(err)
				}
				up += time.Since(start)
				start = time.Now()
				if err := l.Down(); err != nil {
					b.Fatal(err)
				}
				down += time.Since(start)
			}
			b.ReportMetric(float64(up.Milliseconds())/float64(b.N), "up-ms/op")
			b.ReportMetric(float64(down.Milliseconds())/float64(b.N), "down-ms/op")
		})
	}
}
