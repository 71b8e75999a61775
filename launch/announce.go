package launch

import (
	"fmt"
	"io"
	"strings"
)

// The lines a serve child prints on stdout once it accepts connections: the
// pprof line (with --pprof-addr) and then the listening line, each with the
// address bound ("listening on 127.0.0.1:PORT"), so that a parent that asked
// for port 0 learns the port. Nothing else is printed before them.
const (
	ListeningPrefix = "listening on "
	PprofPrefix     = "pprof on "
)

// Announce writes the announcement of a server listening on addr and serving
// pprof on pprofAddr (none when empty).
func Announce(w io.Writer, addr, pprofAddr string) error {
	if pprofAddr != "" { // first: the parent reads up to the listening line
		if _, err := fmt.Fprintf(w, "%s%s\n", PprofPrefix, pprofAddr); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%s%s\n", ListeningPrefix, addr)
	return err
}

// Announced is what a serve child announced.
type Announced struct {
	Addr      string // where it serves
	PprofAddr string // where it serves net/http/pprof; empty when it did not say
	done      bool   // the listening line was read
}

// Scan reads one line of the child's stdout. It reports true on the listening
// line, which completes a; lines after it are not read.
func (a *Announced) Scan(line string) bool {
	if a.done {
		return true
	}
	if rest, ok := strings.CutPrefix(line, PprofPrefix); ok {
		a.PprofAddr = strings.TrimSpace(rest)
	}
	if rest, ok := strings.CutPrefix(line, ListeningPrefix); ok {
		a.Addr, a.done = strings.TrimSpace(rest), true
		return true
	}
	return false
}
