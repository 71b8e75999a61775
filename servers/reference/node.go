// Package reference runs the real systems concbench's Go models stand for —
// Node.js (node-loop, node-pool, node-cluster) and Apache httpd
// (apache-worker) — serving the same route table, so that a run can put each
// model beside its original.
//
// A reference server is an external program: this package embeds what it
// needs (the Node script, Apache's config template and mod_lua handler),
// checks that the program is installed, and builds the command that runs it.
// The Node script speaks the protocol of `concbench serve` itself: it prints
// "listening on HOST:PORT" on stdout once it accepts connections, answers
// /healthz and /stats, and on SIGTERM stops accepting, lets in-flight requests
// finish within the grace period, and exits 0. Apache cannot announce a port
// it chose, so NewApache picks a free one and wraps httpd in a
// servers.Server that `concbench serve --model apache-worker` runs.
package reference

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/concbench/concbench/launch"
)

// The Node.js reference models, as named in plans, /stats and reports.
const (
	// NodeLoop is a plain Node server: every request on the main thread
	// (stands beside eventloop).
	NodeLoop = "node-loop"
	// NodePool runs /cpu and /regex on a worker_threads pool of
	// Config.Workers threads with a queue of Config.Queue jobs; a full queue
	// answers 503 (stands beside offload).
	NodePool = "node-pool"
	// NodeCluster is the cluster module with its default scheduling
	// (round-robin from the primary on Linux), Config.Procs children each
	// like NodeLoop (stands beside cluster).
	NodeCluster = "node-cluster"
)

// NodeModels lists the Node.js reference models.
var NodeModels = []string{NodeLoop, NodePool, NodeCluster}

// NodeMinMajor is the oldest Node.js major version the script supports.
const NodeMinMajor = 18

// NodeInstallHint is the command that installs Node.js here.
const NodeInstallHint = "run scripts/install-references.sh (apt-get install nodejs)"

//go:embed node/server.js
var nodeScript []byte

// NodeScript returns the embedded server script, so that a caller can write
// it elsewhere or show it.
func NodeScript() []byte { return bytes.Clone(nodeScript) }

// nodeInfo is what NodeAvailable found, looked up once per process.
var nodeInfo = sync.OnceValues(findNode)

type nodeFound struct {
	bin, version string
}

// NodeAvailable reports whether a usable Node.js (>= NodeMinMajor) is
// installed, and if not, one line saying why and how to install it. It is
// safe for concurrent use; the answer is looked up once per process.
func NodeAvailable() (ok bool, reason string) {
	if _, err := nodeInfo(); err != nil {
		return false, err.Error()
	}
	return true, ""
}

// NodeCheck is NodeAvailable as an error (nil when Node.js is usable), the
// shape of catalog.Entry.Check.
func NodeCheck() error {
	_, err := nodeInfo()
	return err
}

// NodeVersion returns the installed Node.js version ("v20.19.2"), or "" when
// NodeAvailable is false.
func NodeVersion() string {
	f, err := nodeInfo()
	if err != nil {
		return ""
	}
	return f.version
}

func findNode() (nodeFound, error) {
	// Debian's package installs "node" (and long ago only "nodejs").
	var bin string
	for _, name := range []string{"node", "nodejs"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		return nodeFound{}, errors.New("node not found: " + NodeInstallHint)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return nodeFound{}, fmt.Errorf("%s --version: %v: %s", bin, err, NodeInstallHint)
	}
	version := strings.TrimSpace(string(out))
	major, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(version, "v"), ".", 2)[0])
	if err != nil || major < NodeMinMajor {
		return nodeFound{}, fmt.Errorf("node %s is too old (need v%d or later): %s", version, NodeMinMajor, NodeInstallHint)
	}
	return nodeFound{bin: bin, version: version}, nil
}

// scriptPath is where the embedded script was written, once per process.
var scriptPath = sync.OnceValues(writeScript)

// writeScript writes the embedded script under the user's cache directory
// (or the temporary directory), named by its content hash: a concbench
// binary of another version never runs a script that is not its own, and
// concurrent processes write the same bytes, each through its own temporary
// file and a rename.
func writeScript() (string, error) {
	sum := sha256.Sum256(nodeScript)
	name := "server-" + hex.EncodeToString(sum[:6]) + ".js"
	var errs []error
	for _, dir := range scriptDirs() {
		path := filepath.Join(dir, name)
		if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, nodeScript) {
			return path, nil
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		f, err := os.CreateTemp(dir, name+".*")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_, werr := f.Write(nodeScript)
		cerr := f.Close()
		if err := errors.Join(werr, cerr); err != nil {
			os.Remove(f.Name())
			errs = append(errs, err)
			continue
		}
		if err := os.Rename(f.Name(), path); err != nil {
			os.Remove(f.Name())
			errs = append(errs, err)
			continue
		}
		return path, nil
	}
	return "", fmt.Errorf("write the node reference script: %w", errors.Join(errs...))
}

func scriptDirs() []string {
	var dirs []string
	if d, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(d, "concbench", "node"))
	}
	return append(dirs, filepath.Join(os.TempDir(), "concbench-"+strconv.Itoa(os.Getuid()), "node"))
}

// NodeCommand returns the command that serves model (NodeLoop, NodePool or
// NodeCluster) with s: Addr, Grace, Workers and Queue (node-pool) and Procs
// (node-cluster); zero fields take launch's defaults, and the other fields
// (PprofAddr, MaxThreads) are ignored. It fails when the model is unknown, cfg is out of
// range, Node.js is not available, or the script cannot be written. The
// caller starts the command (in its own process group if it wants to signal
// a cluster's children too) and reads the listening line from its stdout.
func NodeCommand(model string, s launch.Settings) (*exec.Cmd, error) {
	mode, ok := strings.CutPrefix(model, "node-")
	if !ok || (mode != "loop" && mode != "pool" && mode != "cluster") {
		return nil, fmt.Errorf("unknown node model %q (want %s)", model, strings.Join(NodeModels, ", "))
	}
	s, err := s.WithDefaults()
	if err != nil {
		return nil, err
	}
	found, err := nodeInfo()
	if err != nil {
		return nil, err
	}
	script, err := scriptPath()
	if err != nil {
		return nil, err
	}
	return exec.Command(found.bin, script,
		"--mode", mode,
		"--addr", s.Addr,
		"--workers", strconv.Itoa(s.Workers),
		"--queue", strconv.Itoa(s.Queue),
		"--procs", strconv.Itoa(s.Procs),
		"--grace", s.Grace.String(),
	), nil
}

// Check reports whether the reference named name (a catalog.Reference entry)
// can run here: nil, or one line saying what is missing and how to install
// it. It is the one place that answers this for every reference.
func Check(name string) error {
	switch {
	case name == ApacheWorker:
		return CheckApache()
	case slices.Contains(NodeModels, name):
		return NodeCheck()
	}
	return fmt.Errorf("%q is not a reference server (one of %s, %s)", name, strings.Join(NodeModels, ", "), ApacheWorker)
}

// Version names the installed program behind a reference ("node v20.19.2",
// "apache2"), or "" when Check fails.
func Version(name string) string {
	if Check(name) != nil {
		return ""
	}
	if name == ApacheWorker {
		return "apache2"
	}
	return "node " + NodeVersion()
}
