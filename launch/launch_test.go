package launch

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// withFlagDefaults is c as `concbench serve` reads it when the flags of its
// zero fields are left out.
func withFlagDefaults(c Command) Command {
	if c.Addr == "" {
		c.Addr = ServeAddr
	}
	if c.Grace == 0 {
		c.Grace = DefaultGrace
	}
	if c.MaxThreads == 0 {
		c.MaxThreads = DefaultMaxThreads
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.Queue == 0 {
		c.Queue = DefaultQueue
	}
	if c.Balance == "" {
		c.Balance = DefaultBalance
	}
	for _, d := range timeouts {
		if p := d.field(&c.Timeouts); *p == 0 {
			*p = d.def
		}
	}
	return c
}

func TestArgsRoundTrip(t *testing.T) {
	for _, c := range []Command{
		{Model: "offload", Settings: Settings{Addr: "127.0.0.1:0", Grace: 3 * time.Second}},
		{Model: "thread", Settings: Settings{Addr: "127.0.0.1:9", PprofAddr: "127.0.0.1:0", Grace: 250 * time.Millisecond,
			Tuning: Tuning{MaxThreads: 7, Workers: 2, Queue: 3, Procs: 5}}, CPUs: "0-1", ProfileRates: true, Verbose: true},
		{Model: "cluster", Settings: Settings{Tuning: Tuning{Procs: 2}}},
		{Model: "cluster", Settings: Settings{Tuning: Tuning{Procs: 2, Balance: BalanceReusePort}}},
		{Model: "goroutine", Settings: Settings{Addr: "10.213.0.1:8080", AllowRemote: true}},
		{},
	} {
		args := c.Args()
		if args[0] != Subcommand {
			t.Errorf("%+v.Args() = %q; want %q first", c, args, Subcommand)
			continue
		}
		got, err := Parse(args[1:])
		if want := withFlagDefaults(c); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", args[1:], got, err, want)
		}
	}
}

// TestArgsLine: the command line of a run's cell, as results.json records it
// under server_args, reads as it did when the runner wrote it by hand.
func TestArgsLine(t *testing.T) {
	for _, tc := range []struct {
		c    Command
		want string
	}{
		{Command{Model: "eventloop", Settings: Settings{Addr: "127.0.0.1:0", Grace: 3 * time.Second}},
			"serve --model eventloop --addr 127.0.0.1:0 --grace 3s"},
		{Command{Model: "offload", Settings: Settings{Addr: "127.0.0.1:0", Grace: 3 * time.Second, PprofAddr: "127.0.0.1:0", Tuning: Tuning{Workers: 2, Procs: 3}},
			CPUs: "1", ProfileRates: true},
			"serve --model offload --addr 127.0.0.1:0 --grace 3s --cpus 1 --pprof-addr 127.0.0.1:0 --profile-rates --workers 2 --procs 3"},
		{Command{Model: "cluster", Settings: Settings{Tuning: Tuning{Procs: 2, Balance: BalanceRR}}},
			"serve --model cluster --procs 2 --balance rr"},
	} {
		if got := strings.Join(tc.c.Args(), " "); got != tc.want {
			t.Errorf("%+v.Args() = %q; want %q", tc.c, got, tc.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, args := range [][]string{{"--workers", "x"}, {"--nope"}, {"--balance"}, {"--model", "thread", "extra"}} {
		if c, err := Parse(args); err == nil {
			t.Errorf("Parse(%q) = %+v, nil; want an error", args, c)
		}
	}
}

func TestWithDefaults(t *testing.T) {
	got, err := Settings{}.WithDefaults()
	want := Settings{Addr: DefaultAddr, Grace: DefaultGrace, Tuning: Tuning{MaxThreads: DefaultMaxThreads, Workers: DefaultWorkers, Queue: DefaultQueue, Procs: runtime.NumCPU(), Balance: BalanceRR},
		Timeouts: Timeouts{HeadersTimeout: DefaultHeadersTimeout, RequestTimeout: DefaultRequestTimeout, KeepAliveTimeout: DefaultKeepAliveTimeout}}
	if err != nil || got != want {
		t.Errorf("Settings{}.WithDefaults() = %+v, %v; want %+v", got, err, want)
	}
	for _, tc := range []struct {
		s    Settings
		want string // "" for no error
	}{
		{Settings{Tuning: Tuning{MaxThreads: 10000, Workers: 1024, Queue: 1 << 20, Procs: 64}}, ""},
		{Settings{Tuning: Tuning{MaxThreads: 10001}}, "max-threads: 10001 out of range [1, 10000]"},
		{Settings{Tuning: Tuning{MaxThreads: -1}}, "max-threads: -1 out of range [1, 10000]"},
		{Settings{Tuning: Tuning{Workers: 1025}}, "workers: 1025 out of range [1, 1024]"},
		{Settings{Tuning: Tuning{Queue: -5}}, "queue: -5 out of range [1, 1048576]"},
		{Settings{Tuning: Tuning{Procs: 65}}, "procs: 65 out of range [1, 64]"},
		{Settings{Tuning: Tuning{Balance: BalanceReusePort}}, ""},
		{Settings{Tuning: Tuning{Balance: "hash"}}, `balance: "hash" is not one of rr, reuseport`},
		{Settings{Grace: -time.Second}, "grace: negative duration -1s"},
		{Settings{Addr: "0.0.0.0:80"}, `addr: "0.0.0.0" is not a loopback address (use 127.0.0.1)`},
		{Settings{Addr: "localhost:80"}, ""},
		{Settings{Addr: "127.0.0.1:http"}, ""},
		{Settings{Addr: "127.0.0.1:nope"}, `addr: bad port "nope"`},
		{Settings{PprofAddr: ":6060"}, `pprof-addr: "" is not a loopback address (use 127.0.0.1)`},
		{Settings{PprofAddr: "[::1]:0"}, ""},
		{Settings{Addr: "10.213.0.1:8080", AllowRemote: true}, ""},
		{Settings{Addr: "10.213.0.1", AllowRemote: true}, "addr: address 10.213.0.1: missing port in address"},
		{Settings{Addr: "10.213.0.1:8080", AllowRemote: true, PprofAddr: "10.213.0.1:6060"}, `pprof-addr: "10.213.0.1" is not a loopback address (use 127.0.0.1)`},
	} {
		_, err := tc.s.WithDefaults()
		if got := errString(err); got != tc.want {
			t.Errorf("%+v.WithDefaults() = %q; want %q", tc.s, got, tc.want)
		}
	}
}

// TestTuningCheck: a plan may leave a setting zero (the default) but not
// exceed the bounds WithDefaults applies.
func TestTuningCheck(t *testing.T) {
	for _, tc := range []struct {
		t    Tuning
		want string
	}{
		{Tuning{}, ""},
		{Tuning{MaxThreads: 10000, Workers: 1024, Queue: 1 << 20, Procs: 64}, ""},
		{Tuning{MaxThreads: 10001}, "max_threads: 10001 out of range [0, 10000] (0: the model's default)"},
		{Tuning{Workers: -1}, "workers: -1 out of range [0, 1024] (0: the model's default)"},
		{Tuning{Procs: 65}, "procs: 65 out of range [0, 64] (0: the model's default)"},
		{Tuning{Balance: BalanceRR}, ""},
		{Tuning{Balance: "RR"}, `balance: "RR" is not one of rr, reuseport`},
	} {
		if got := errString(tc.t.Check()); got != tc.want {
			t.Errorf("%+v.Check() = %q; want %q", tc.t, got, tc.want)
		}
		// What a plan accepts, a server started with it accepts.
		if tc.want == "" {
			if _, err := (Settings{Tuning: tc.t}).WithDefaults(); err != nil {
				t.Errorf("a plan accepts %+v but WithDefaults says %v", tc.t, err)
			}
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestAnnounce(t *testing.T) {
	for _, tc := range []struct {
		addr, pprof string
		after       string // printed after the announcement, e.g. by a model
	}{
		{"127.0.0.1:4000", "", ""},
		{"127.0.0.1:4000", "127.0.0.1:4001", "pprof on 127.0.0.1:9\nlistening on 127.0.0.1:9\n"},
	} {
		var buf bytes.Buffer
		if err := Announce(&buf, tc.addr, tc.pprof); err != nil {
			t.Fatal(err)
		}
		buf.WriteString(tc.after)
		var a Announced
		n := 0
		for _, line := range strings.Split(buf.String(), "\n") {
			n++
			if a.Scan(line) {
				break
			}
		}
		lines := 1 // the listening line ends the announcement
		if tc.pprof != "" {
			lines++
		}
		if want := (Announced{Addr: tc.addr, PprofAddr: tc.pprof, done: true}); a != want || n != lines {
			t.Errorf("Announce(%q, %q) read back as %+v after %d lines; want %+v", tc.addr, tc.pprof, a, n, want)
		}
		for _, line := range strings.Split(tc.after, "\n") {
			if !a.Scan(line) || a.Addr != tc.addr || a.PprofAddr != tc.pprof {
				t.Errorf("a line after the announcement changed it: %+v", a)
			}
		}
	}
	var a Announced
	if a.Scan("serving on 127.0.0.1:1") || a.Scan("") || a.Addr != "" {
		t.Errorf("other lines were read as the announcement: %+v", a)
	}
}

// TestServerBinary: concbench-serve beside the executable is preferred when
// it is an executable file; otherwise the executable itself runs the servers.
func TestServerBinary(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sib   os.FileMode // 0: no sibling
		isDir bool
		want  string // "sib" or "exe"
	}{
		{"executable sibling", 0o755, false, "sib"},
		{"no sibling", 0, false, "exe"},
		{"sibling not executable", 0o644, false, "exe"},
		{"sibling a directory", 0, true, "exe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			exe := filepath.Join(dir, "concbench")
			sib := filepath.Join(dir, ServeBinary)
			switch {
			case tc.isDir:
				if err := os.Mkdir(sib, 0o755); err != nil {
					t.Fatal(err)
				}
			case tc.sib != 0:
				if err := os.WriteFile(sib, []byte("#!/bin/sh\n"), tc.sib); err != nil {
					t.Fatal(err)
				}
			}
			want := exe
			if tc.want == "sib" {
				want = sib
			}
			if got := ServerBinary(exe); got != want {
				t.Fatalf("ServerBinary(%q) = %q, want %q", exe, got, want)
			}
		})
	}
}

func TestSameCommit(t *testing.T) {
	bi := func(kv ...string) *debug.BuildInfo {
		b := &debug.BuildInfo{}
		for i := 0; i+1 < len(kv); i += 2 {
			b.Settings = append(b.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return b
	}
	for _, tc := range []struct {
		name string
		a, b *debug.BuildInfo
		want bool
	}{
		{"same commit", bi("vcs.revision", "abc", "vcs.modified", "false"), bi("vcs.revision", "abc", "vcs.modified", "false"), true},
		{"other commit", bi("vcs.revision", "abc"), bi("vcs.revision", "def"), false},
		{"one modified", bi("vcs.revision", "abc", "vcs.modified", "true"), bi("vcs.revision", "abc", "vcs.modified", "false"), false},
		{"one without VCS", bi("vcs.revision", "abc"), bi(), true},
		{"neither", bi(), bi(), true},
	} {
		if got := sameCommit(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: sameCommit = %v, want %v", tc.name, got, tc.want)
		}
	}
}
