package result

import (
	"testing"

	"github.com/concbench/concbench/plan"
)

func TestFigure(t *testing.T) {
	answered := Class{Requests: 200, Errors: 3, Response: Latency{Count: 197, P50: 1, P90: 2, P99: 3, P999: 4, P9999: 5, Max: 6}}
	unanswered := Class{Requests: 10, Errors: 10}
	for _, tc := range []struct {
		c      Class
		name   string
		want   float64
		wantOK bool
	}{
		{answered, "p50", 1, true},
		{answered, "p90", 2, true},
		{answered, "p99", 3, true},
		{answered, "p99.9", 4, true},
		{answered, "p99.99", 5, true},
		{answered, "max", 6, true},
		{answered, "errors", 1.5, true},
		{answered, "mean", 0, false},
		{unanswered, "p99", 0, false},
		{unanswered, "errors", 100, true},
		{Class{}, "errors", 0, false},
	} {
		if v, ok := tc.c.Figure(tc.name); v != tc.want || ok != tc.wantOK {
			t.Errorf("%+v.Figure(%q) = (%g, %t); want (%g, %t)", tc.c, tc.name, v, ok, tc.want, tc.wantOK)
		}
	}
	// Every figure an SLO may name can be read.
	for _, name := range plan.Figures {
		if _, ok := answered.Figure(name); !ok {
			t.Errorf("Figure(%q) is not readable; plan.Figures lists it", name)
		}
	}
}

func TestMinSamples(t *testing.T) {
	for _, tc := range []struct {
		q    float64
		want int64
	}{{0.5, 20}, {0.9, 100}, {0.99, 1000}, {0.999, 10000}, {0.9999, 100000}} {
		if got := MinSamples(tc.q); got != tc.want {
			t.Errorf("MinSamples(%g) = %d; want %d", tc.q, got, tc.want)
		}
	}
}
