package runner

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/concbench/concbench/cpuset"
	"github.com/concbench/concbench/result"
)

// pinning is how a run's processes are pinned.
type pinning struct {
	rec        result.Pinning
	serverCPUs string     // `concbench serve --cpus` (empty: none)
	serverSet  cpuset.Set // affinity the server starts with (nil: inherited)
}

// ParseCPUs reads a --server-cpus / --loadgen-cpus value: "" (default), "none",
// or a CPU list whose CPUs this process may use.
func ParseCPUs(spec string) (cpuset.Set, error) {
	switch spec {
	case "", "none":
		return nil, nil
	}
	set, err := cpuset.Parse(spec)
	if err != nil {
		return nil, err
	}
	avail, err := cpuset.Available()
	if err != nil {
		return nil, err
	}
	for _, c := range set {
		if !contains(avail, c) {
			return nil, fmt.Errorf("cpu %d is not available (this process may use %s)", c, avail)
		}
	}
	return set, nil
}

// setupPinning pins this process (the load generator) and works out the
// servers' --cpus flag. restore undoes the pinning of this process.
func setupPinning(serverSpec, loadgenSpec string) (pinning, func(), error) {
	var pin pinning
	nop := func() {}
	avail, err := cpuset.Available()
	if err != nil {
		pin.rec.Note = "CPU affinity unavailable, nothing pinned: " + err.Error()
		return pin, nop, nil
	}
	srv, err := ParseCPUs(serverSpec)
	if err != nil {
		return pin, nop, fmt.Errorf("server CPUs: %w", err)
	}
	lg, err := ParseCPUs(loadgenSpec)
	if err != nil {
		return pin, nop, fmt.Errorf("load generator CPUs: %w", err)
	}
	var notes []string
	if len(avail) < 2 {
		if serverSpec == "" && loadgenSpec == "" {
			notes = append(notes, fmt.Sprintf("only %d CPU available: the generator and the server share it, nothing pinned", len(avail)))
		}
	} else {
		if serverSpec == "" {
			srv = cpuset.Set{avail[1]}
		}
		if loadgenSpec == "" {
			lg = cpuset.Set{avail[0]}
		}
	}
	for _, c := range srv {
		if contains(lg, c) {
			notes = append(notes, fmt.Sprintf("the generator and the server share CPU %d", c))
		}
	}
	restore := nop
	if len(lg) > 0 {
		procs := runtime.GOMAXPROCS(0)
		if err := cpuset.PinAll(lg); err != nil {
			_ = cpuset.PinAll(avail)
			return pin, nop, fmt.Errorf("pin the load generator: %w", err)
		}
		// Go sizes GOMAXPROCS from the affinity it starts with only.
		runtime.GOMAXPROCS(len(lg))
		restore = func() {
			_ = cpuset.PinAll(avail)
			runtime.GOMAXPROCS(procs)
		}
		pin.rec.LoadgenCPUs = lg.String()
	}
	switch {
	case len(srv) > 0:
		pin.serverCPUs = srv.String()
		pin.serverSet = srv
		pin.rec.ServerCPUs = srv.String()
	case len(lg) > 0:
		// A child inherits this process's affinity: give the server all of
		// the machine back (without --cpus, so GOMAXPROCS stays Go's default).
		pin.serverSet = avail
		notes = append(notes, "server not pinned (may use CPUs "+avail.String()+")")
	}
	pin.rec.Note = strings.Join(notes, "; ")
	return pin, restore, nil
}
