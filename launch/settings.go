// Package launch is the protocol between the run orchestrator and a
// `concbench serve` child process, in one place for both sides: the server
// settings with their defaults and bounds, the serve command line (Args
// writes it, Register and Parse read it), and the lines the child announces
// on stdout once it serves (Announce writes them, Announced.Scan reads them).
// It links no server, so plan can check settings with it.
//
// Adding a model setting is one row of the tunings table (and its field in
// Tuning): the flag, the plan key, the default, the bounds and the command
// line all follow from it.
package launch

import (
	"flag"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Tuning are the model settings a plan may set for every model (its
// `server:` block) and `concbench serve` takes as flags. Zero means the
// default of the tunings table. The JSON and YAML keys are part of plans and
// results.json.
type Tuning struct {
	// MaxThreads caps the thread model's concurrent requests, like Apache's
	// MaxRequestWorkers (default 256).
	MaxThreads int `json:"max_threads,omitempty" yaml:"max_threads,omitempty"`
	// Workers is the offload model's pool size (default 4, like libuv's pool).
	Workers int `json:"workers,omitempty" yaml:"workers,omitempty"`
	// Queue bounds the offload model's pending jobs; a full queue answers 503 (default 1024).
	Queue int `json:"queue,omitempty" yaml:"queue,omitempty"`
	// Procs is the cluster model's number of child processes (default: the
	// number of CPUs this process may run on).
	Procs int `json:"procs,omitempty" yaml:"procs,omitempty"`
	// Balance is how the cluster model spreads new connections over its
	// children (default BalanceRR, like Node's cluster module on Linux).
	Balance string `json:"balance,omitempty" yaml:"balance,omitempty"`
}

// The cluster model's ways of spreading connections (Tuning.Balance).
const (
	// BalanceRR: the supervisor accepts every connection and hands it to the
	// next child that has taken the previous one (Node's SCHED_RR, its default
	// on Linux): a blocked child holds back at most the one connection it
	// was handed.
	BalanceRR = "rr"
	// BalanceReusePort: every child listens on the port with SO_REUSEPORT and
	// the kernel picks one by a hash of the client's address and port, blind
	// to whether that child is blocked (Node's SCHED_NONE is the closest: the
	// workers accept by themselves).
	BalanceReusePort = "reuseport"
)

// Settings are what a server is started with. Zero fields take the defaults
// documented here; the fields that do not apply to a model are ignored by it.
type Settings struct {
	// Addr is the loopback address to serve on; port 0 picks a free port
	// (default DefaultAddr; `concbench serve` run by hand defaults to ServeAddr).
	Addr string
	// AllowRemote lets Addr be any address, for a server measured by
	// generators on other hosts (concbench attack --allow-remote). Off, Addr
	// must be on the loopback interface. PprofAddr always must.
	AllowRemote bool
	// PprofAddr, when set, serves net/http/pprof there (loopback only).
	PprofAddr string
	// Grace bounds the drain of in-flight requests on shutdown (default DefaultGrace).
	Grace time.Duration
	Tuning
	Timeouts
}

// Defaults of Settings.
const (
	DefaultAddr       = "127.0.0.1:0"
	DefaultGrace      = 10 * time.Second
	DefaultMaxThreads = 256
	DefaultWorkers    = 4
	DefaultQueue      = 1024
	DefaultBalance    = BalanceRR
)

// ServeAddr is the default of `concbench serve --addr`, for a server run by hand.
const ServeAddr = "127.0.0.1:8080"

// tuning is one field of Tuning: its flag, its plan key, its default and
// bounds. A field is a number (field, with min and max) or a word (str, one
// of choices).
type tuning struct {
	flag  string // serve flag, without "--"; also names the field in WithDefaults' errors
	key   string // plan key (JSON/YAML), in Tuning.Check's errors
	usage string
	// def is what zero stands for; defFunc, when set, computes it instead (and
	// the serve flag then defaults to 0).
	def      int
	defFunc  func() int
	min, max int
	field    func(*Tuning) *int
	// A word setting: "" stands for defStr.
	str     func(*Tuning) *string
	defStr  string
	choices []string
}

// tunings lists Tuning's fields in the order the serve command line gives them.
var tunings = []tuning{
	{flag: "max-threads", key: "max_threads", usage: "thread: concurrent requests, one OS thread each (Apache's MaxRequestWorkers)",
		def: DefaultMaxThreads, min: 1, max: 10000, field: func(t *Tuning) *int { return &t.MaxThreads }},
	{flag: "workers", key: "workers", usage: "offload: worker pool size (libuv's is 4)",
		def: DefaultWorkers, min: 1, max: 1024, field: func(t *Tuning) *int { return &t.Workers }},
	{flag: "queue", key: "queue", usage: "offload: pending jobs before answering 503",
		def: DefaultQueue, min: 1, max: 1 << 20, field: func(t *Tuning) *int { return &t.Queue }},
	{flag: "procs", key: "procs", usage: "cluster: child processes (default: CPUs this process may use)",
		defFunc: runtime.NumCPU, min: 1, max: 64, field: func(t *Tuning) *int { return &t.Procs }},
	{flag: "balance", key: "balance", usage: "cluster: how new connections reach the children: rr (the supervisor hands each to the next free child, Node's default) or reuseport (the kernel's SO_REUSEPORT hash)",
		defStr: DefaultBalance, choices: []string{BalanceRR, BalanceReusePort}, str: func(t *Tuning) *string { return &t.Balance }},
}

func (s tuning) defaultValue() int {
	if s.defFunc != nil {
		return s.defFunc()
	}
	return s.def
}

// isZero reports whether t leaves this setting to its default.
func (s tuning) isZero(t *Tuning) bool {
	if s.str != nil {
		return *s.str(t) == ""
	}
	return *s.field(t) == 0
}

// value is the setting in t as the serve flag spells it.
func (s tuning) value(t *Tuning) string {
	if s.str != nil {
		return *s.str(t)
	}
	return strconv.Itoa(*s.field(t))
}

// setDefault sets a zero setting in t to what zero stands for.
func (s tuning) setDefault(t *Tuning) {
	if !s.isZero(t) {
		return
	}
	if s.str != nil {
		*s.str(t) = s.defStr
	} else {
		*s.field(t) = s.defaultValue()
	}
}

// check validates the setting in t; zeroOK accepts the zero a plan may give.
func (s tuning) check(t *Tuning, name string, zeroOK bool) error {
	if s.str != nil {
		v := *s.str(t)
		if (v == "" && zeroOK) || slices.Contains(s.choices, v) {
			return nil
		}
		return fmt.Errorf("%s: %q is not one of %s", name, v, strings.Join(s.choices, ", "))
	}
	v, lo := *s.field(t), s.min
	if zeroOK {
		lo = 0
	}
	if v >= lo && v <= s.max {
		return nil
	}
	if zeroOK {
		return fmt.Errorf("%s: %d out of range [0, %d] (0: the model's default)", name, v, s.max)
	}
	return fmt.Errorf("%s: %d out of range [%d, %d]", name, v, s.min, s.max)
}

// Check validates t as a plan gives it: every field zero (the model's
// default) or within its bounds. Errors name the plan key.
func (t Tuning) Check() error {
	for _, s := range tunings {
		if err := s.check(&t, s.key, true); err != nil {
			return err
		}
	}
	return nil
}

// WithDefaults returns s with every zero field set to its default, and checks
// the ranges and that both addresses are on the loopback interface. Errors
// name the serve flag.
func (s Settings) WithDefaults() (Settings, error) {
	if s.Addr == "" {
		s.Addr = DefaultAddr
	}
	if s.Grace == 0 {
		s.Grace = DefaultGrace
	}
	for _, t := range tunings {
		t.setDefault(&s.Tuning)
		if err := t.check(&s.Tuning, t.flag, false); err != nil {
			return s, err
		}
	}
	if s.Grace < 0 {
		return s, fmt.Errorf("grace: negative duration %s", s.Grace)
	}
	if err := s.Timeouts.withDefaults(); err != nil {
		return s, err
	}
	if s.AllowRemote {
		if _, _, err := net.SplitHostPort(s.Addr); err != nil {
			return s, fmt.Errorf("addr: %w", err)
		}
	} else if err := CheckLoopback(s.Addr); err != nil {
		return s, fmt.Errorf("addr: %w", err)
	}
	if s.PprofAddr != "" {
		if err := CheckLoopback(s.PprofAddr); err != nil {
			return s, fmt.Errorf("pprof-addr: %w", err)
		}
	}
	return s, nil
}

// CheckLoopback accepts only host:port addresses on the loopback interface: the
// servers exist to be measured on this machine, never exposed to a network.
func CheckLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("bad port %q", port)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address (use 127.0.0.1)", host)
	}
	return nil
}

// registerTuning binds t's fields to their serve flags, defaulting to what
// zero stands for (0 where that is computed, e.g. procs).
func registerTuning(fs *flag.FlagSet, t *Tuning) {
	for _, s := range tunings {
		if s.str != nil {
			fs.StringVar(s.str(t), s.flag, s.defStr, s.usage)
		} else {
			fs.IntVar(s.field(t), s.flag, s.def, s.usage)
		}
	}
}
