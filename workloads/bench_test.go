package workloads

import (
	"fmt"
	"testing"
)

var sinkHasher Hasher

// BenchmarkCPU measures the hash chain of /cpu; ns/iter is the cost of one round.
func BenchmarkCPU(b *testing.B) {
	for _, iters := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("iters=%d", iters), func(b *testing.B) {
			for b.Loop() {
				h := NewHasher(iters)
				h.Step(iters)
				sinkHasher = h
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(iters), "ns/iter")
		})
	}
}

// BenchmarkRegex measures one unbounded match of /regex per engine and n. The
// backtracking engine should take about twice as long per extra character, RE2
// about the same.
func BenchmarkRegex(b *testing.B) {
	for _, e := range []Engine{EngineBacktrack, EngineRE2} {
		ns := []int{20, 21, 22, 23, 24, 25, 26}
		if e == EngineRE2 {
			ns = append(ns, MaxRegexN)
		}
		for _, n := range ns {
			b.Run(fmt.Sprintf("%v/n=%d", e, n), func(b *testing.B) {
				for b.Loop() {
					if ok, err := MatchRegex(e, n, 0); ok || err != nil {
						b.Fatalf("MatchRegex(%v, %d, 0) = %v, %v; want false, nil", e, n, ok, err)
					}
				}
			})
		}
	}
}
