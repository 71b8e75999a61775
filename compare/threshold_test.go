package compare_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/concbench/concbench/compare"
)

func TestParseThresholds(t *testing.T) {
	th := func(f compare.Figure, op compare.Op, pct float64) compare.Threshold {
		return compare.Threshold{Figure: f, Op: op, Percent: pct}
	}
	for _, tc := range []struct {
		in      string
		want    []compare.Threshold
		wantErr string
	}{
		{in: "", want: nil},
		{in: "  ", want: nil},
		{in: "p99>+10%", want: []compare.Threshold{th(compare.P99, compare.Grows, 10)}},
		{in: "p99>+10%,throughput<-5%", want: []compare.Threshold{th(compare.P99, compare.Grows, 10), th(compare.Throughput, compare.Shrinks, -5)}},
		{in: " p99.9 > +2.5% , rss>+0%,cpu>+30%,p50>+15% ", want: []compare.Threshold{
			th(compare.P999, compare.Grows, 2.5), th(compare.RSS, compare.Grows, 0), th(compare.CPU, compare.Grows, 30), th(compare.P50, compare.Grows, 15)}},
		{in: "throughput<-0%", want: []compare.Threshold{th(compare.Throughput, compare.Shrinks, 0)}},
		// Both directions of one figure are two thresholds.
		{in: "rss>+50%,rss<-50%", want: []compare.Threshold{th(compare.RSS, compare.Grows, 50), th(compare.RSS, compare.Shrinks, -50)}},
		{in: compare.DefaultFailOn, want: []compare.Threshold{th(compare.P99, compare.Grows, 25), th(compare.Throughput, compare.Shrinks, -10)}},

		{in: "p95>+10%", wantErr: `"p95>+10%": unknown figure "p95" (want throughput, p50, p99, p99.9, rss or cpu)`},
		{in: "P99>+10%", wantErr: `"P99>+10%": unknown figure "P99" (want throughput, p50, p99, p99.9, rss or cpu)`},
		{in: "p99=+10%", wantErr: `"p99=+10%": want FIGURE>+N% or FIGURE<-N%, e.g. p99>+10% or throughput<-5%`},
		{in: "p99>10%", wantErr: `"p99>10%": want a signed percent after >, e.g. p99>+10%`},
		{in: "throughput<5%", wantErr: `"throughput<5%": want a signed percent after <, e.g. throughput<-10%`},
		{in: "p99>+10", wantErr: `"p99>+10": want a signed percent after >, e.g. p99>+10%`},
		{in: "p99>=+10%", wantErr: `"p99>=+10%": want a signed percent after >, e.g. p99>+10%`},
		{in: "p99>+ten%", wantErr: `"p99>+ten%": "+ten" is not a number`},
		{in: "p99>+Inf%", wantErr: `"p99>+Inf%": "+Inf" is not a number`},
		{in: "p99>-10%", wantErr: `"p99>-10%": '>' (worse if it grows beyond) takes a + percent`},
		{in: "throughput<+5%", wantErr: `"throughput<+5%": '<' (worse if it shrinks beyond) takes a - percent`},
		{in: "p99>+10%,", wantErr: `empty threshold (stray comma?)`},
		{in: "p99>+10%,p99>+20%", wantErr: `"p99>+20%": p99 already has a > threshold`},
		{in: ">+10%", wantErr: `">+10%": unknown figure "" (want throughput, p50, p99, p99.9, rss or cpu)`},
	} {
		got, err := compare.ParseThresholds(tc.in)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("ParseThresholds(%q) = (%v, %v); want error %s", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("ParseThresholds(%q) = (%v, %v); want (%v, nil)", tc.in, got, err, tc.want)
		}
	}
}

func TestThresholdString(t *testing.T) {
	for _, in := range []string{"p99>+10%", "throughput<-5%", "p99.9>+2.5%", "rss>+0%", "throughput<-0%"} {
		ts, err := compare.ParseThresholds(in)
		if err != nil || len(ts) != 1 || ts[0].String() != in {
			t.Errorf("ParseThresholds(%q)[0].String() = %v (err %v); want %q", in, ts, err, in)
		}
	}
}

func TestThresholdBroken(t *testing.T) {
	p99 := compare.MustParseThresholds("p99>+10%")[0]
	tput := compare.MustParseThresholds("throughput<-5%")[0]
	for _, tc := range []struct {
		th     compare.Threshold
		change float64
		want   bool
	}{
		{p99, 10.01, true},
		{p99, 10, false}, // beyond, not at
		{p99, -50, false},
		{tput, -5.01, true},
		{tput, -5, false},
		{tput, 20, false},
	} {
		if got := tc.th.Broken(tc.change); got != tc.want {
			t.Errorf("%v.Broken(%v) = %t; want %t", tc.th, tc.change, got, tc.want)
		}
	}
}

// FuzzParseThresholds: any input either fails cleanly or parses into
// thresholds whose String form parses back to the same thresholds.
func FuzzParseThresholds(f *testing.F) {
	for _, s := range []string{compare.DefaultFailOn, "p99>+10%,throughput<-5%", "p99.9 > +2.5%", "rss<-1e2%", "p50>+0x1p-2%", ",", "cpu>+10%%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := compare.ParseThresholds(s)
		if err != nil {
			return
		}
		var parts []string
		for _, th := range ts {
			parts = append(parts, th.String())
		}
		again, err := compare.ParseThresholds(strings.Join(parts, ","))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(ts) {
			t.Errorf("ParseThresholds(%q) = %v, whose String form parses as (%v, %v)", s, ts, again, err)
		}
	})
}
