package launch

import (
	"debug/buildinfo"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/concbench/concbench/catalog"
)

// Subcommand is the concbench command that runs a server.
const Subcommand = "serve"

// ServeBinary is the name of the binary of the servers alone
// (cmd/concbench-serve), which takes the same command lines as concbench
// (Subcommand and its flags).
const ServeBinary = "concbench-serve"

// ServerBinary returns the executable to run servers with, for the concbench
// executable exe: ServeBinary beside it when there is one (`make build`
// builds both), else exe itself. A model run from the whole concbench binary
// carries the harness's other packages' heap (servecmd's doc says what that
// costs), so the servers' own binary is preferred; results.json records
// which ran.
//
// A sibling built from another commit than exe (a concbench rebuilt alone
// beside an old concbench-serve) is not used: both binaries' build
// information (debug/buildinfo) must agree on the commit and on whether the
// tree was modified, when both carry it.
func ServerBinary(exe string) string {
	sib := filepath.Join(filepath.Dir(exe), ServeBinary)
	fi, err := os.Stat(sib)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return exe
	}
	a, errA := buildinfo.ReadFile(exe)
	b, errB := buildinfo.ReadFile(sib)
	if errA == nil && errB == nil && !sameCommit(a, b) {
		return exe
	}
	return sib
}

// sameCommit reports whether a and b were built from the same commit, as
// far as their VCS settings say: a setting one of them lacks is not held
// against it.
func sameCommit(a, b *debug.BuildInfo) bool {
	for _, key := range []string{"vcs.revision", "vcs.modified"} {
		va, vb := setting(a, key), setting(b, key)
		if va != "" && vb != "" && va != vb {
			return false
		}
	}
	return true
}

func setting(bi *debug.BuildInfo, key string) string {
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// Command is a whole `concbench serve` command line.
type Command struct {
	// Model is the catalog name of the Go model to serve.
	Model string
	Settings
	// CPUs pins the server to these CPUs ("1", "0-1"; empty: not pinned).
	CPUs string
	// ProfileRates turns the mutex and block profiles on.
	ProfileRates bool
	// Verbose logs server events to stderr.
	Verbose bool
}

// Args returns c as the arguments of the concbench executable, starting with
// Subcommand. Zero fields are left out (the server then takes its default),
// so the line reads as short as what was asked: runs record it in results.json.
func (c Command) Args() []string {
	args := []string{Subcommand}
	add := func(flag, v string) {
		if v != "" {
			args = append(args, "--"+flag, v)
		}
	}
	add("model", c.Model)
	add("addr", c.Addr)
	if c.AllowRemote {
		args = append(args, "--allow-remote")
	}
	if c.Grace != 0 {
		add("grace", c.Grace.String())
	}
	add("cpus", c.CPUs)
	add("pprof-addr", c.PprofAddr)
	if c.ProfileRates {
		args = append(args, "--profile-rates")
	}
	for _, t := range tunings {
		if !t.isZero(&c.Tuning) {
			add(t.flag, t.value(&c.Tuning))
		}
	}
	appendTimeouts(add, c.Timeouts)
	if c.Verbose {
		args = append(args, "-v")
	}
	return args
}

// Register binds c's fields to the serve flags of fs, with the defaults of
// `concbench serve` run by hand.
func (c *Command) Register(fs *flag.FlagSet) {
	goModels := strings.Join(catalog.Builtin().NamesOf(catalog.GoModel), ", ")
	fs.StringVar(&c.Model, "model", "", "server model: "+goModels+" (required)")
	fs.StringVar(&c.Addr, "addr", ServeAddr, "loopback `address` to serve on (port 0 picks a free port)")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a non-loopback --addr: serve generators on other hosts (concbench attack)")
	fs.StringVar(&c.PprofAddr, "pprof-addr", "", "serve net/http/pprof on this loopback `address` (off when empty)")
	fs.DurationVar(&c.Grace, "grace", DefaultGrace, "on SIGINT/SIGTERM, how long in-flight requests may finish")
	registerTuning(fs, &c.Tuning)
	registerTimeouts(fs, &c.Timeouts)
	fs.StringVar(&c.CPUs, "cpus", "", "pin the server to these CPUs, e.g. 1 or 0-1 (sets GOMAXPROCS to their number)")
	fs.BoolVar(&c.ProfileRates, "profile-rates", false, "record the mutex and block profiles (they cost; cluster children too)")
	fs.BoolVar(&c.Verbose, "v", false, "log server events to stderr")
}

// Parse reads the arguments Args writes (without Subcommand), filling what
// they leave out with the flags' defaults.
func Parse(args []string) (Command, error) {
	var c Command
	fs := flag.NewFlagSet(Subcommand, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Register(fs)
	if err := fs.Parse(args); err != nil {
		return Command{}, err
	}
	if fs.NArg() > 0 {
		return Command{}, errors.New("unexpected argument " + strconv.Quote(fs.Arg(0)))
	}
	return c, nil
}
