package units

import (
	"math"
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		call      string
		got, want string
	}{
		{"Ms(0.059)", Ms(0.059), "0.0590 ms"},
		{"Ms(0.4234)", Ms(0.4234), "0.423 ms"},
		{"Ms(9.996)", Ms(9.996), "10.0 ms"},
		{"Ms(52.04)", Ms(52.04), "52.0 ms"},
		{"Ms(141.6)", Ms(141.6), "142 ms"},
		{"Ms(3189)", Ms(3189), "3.19 s"},
		{"Ms(NaN)", Ms(math.NaN()), "–"},
		{"Duration(1500µs)", Duration(1500 * time.Microsecond), "1.50 ms"},
		{"Duration(15µs)", Duration(15 * time.Microsecond), "15.0 µs"},
		{"Duration(0)", Duration(0), "0 ms"},
		{"Duration(2s)", Duration(2 * time.Second), "2.00 s"},
		{"Sig3(0)", Sig3(0), "0"},
		{"Sig3(-0.01234)", Sig3(-0.01234), "-0.0123"},
		{"Num(800)", Num(800), "800"},
		{"Num(1995.1)", Num(1995.1), "1995"},
		{"Num(6.5)", Num(6.5), "6.5"},
		{"Num(0.25)", Num(0.25), "0.25"},
		{"Rate(12.5)", Rate(12.5), "12.5 req/s"},
		{"Plain(499.75)", Plain(499.75), "499.75"},
		{"Plain(1e6)", Plain(1e6), "1000000"},
		{"Pct(0)", Pct(0), "0 %"},
		{"Pct(0.00004)", Pct(0.00004), "<0.01 %"},
		{"Pct(0.0042)", Pct(0.0042), "0.42 %"},
		{"Pct(0.25)", Pct(0.25), "25.0 %"},
		{"Share(0.01)", Share(0.01), "1 %"},
		{"Share(0.025)", Share(0.025), "2.5 %"},
		{"Bytes(512)", Bytes(512), "512 B"},
		{"Bytes(4096)", Bytes(4096), "4.0 KiB"},
		{"Bytes(45.2 MiB)", Bytes(45.2 * (1 << 20)), "45.2 MiB"},
		{"Bytes(120 MiB)", Bytes(120 * (1 << 20)), "120 MiB"},
		{"Bytes(16 GiB)", Bytes(16 * (1 << 30)), "16.0 GiB"},
		{"MiB(0.5 MiB)", MiB(1 << 19), "0.5 MiB"},
		{"MiB(45.4 MiB)", MiB(45.4 * (1 << 20)), "45 MiB"},
		{"MiBNum(4.25 MiB)", MiBNum(4.25 * (1 << 20)), "4.2"},
		{"Factor(2.04)", Factor(2.04), "×2.0"},
		{"Factor(931.6)", Factor(931.6), "×932"},
		{"Tick(20000)", Tick(20000), "20k"},
		{"Tick(1.5e6)", Tick(1.5e6), "1.5M"},
		{"Tick(0.3)", Tick(0.3), "0.3"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q; want %q", tc.call, tc.got, tc.want)
		}
	}
}
