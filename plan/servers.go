package plan

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/concbench/concbench/catalog"
	"github.com/concbench/concbench/workloads"
)

// UserServer is a server of the user's that a plan starts for each of its
// cells, like the built-in models: started by command, pinned to the server
// CPUs, polled on Health until it answers 200, loaded, then stopped with
// SIGTERM (SIGKILL after the grace). Its name can stand in the plan's models.
type UserServer struct {
	// Name is how the plan's models, the reports and compare call it.
	Name string `json:"name" yaml:"name"`
	// Command is the program and its arguments. The placeholders {port} and
	// {addr} (127.0.0.1:{port}) are replaced by the address chosen for each
	// cell; the server must listen there on loopback.
	Command []string `json:"command" yaml:"command"`
	// Health is the path polled until it answers 200 (default /healthz).
	Health string `json:"health,omitempty" yaml:"health,omitempty"`
	// StartTimeout bounds the wait for Health (default 15s).
	StartTimeout Duration `json:"start_timeout,omitempty" yaml:"start_timeout,omitempty"`
	// Env is added to the runner's environment for the command; the
	// placeholders work in values too.
	Env map[string]string `json:"env,omitempty" yaml:"env,omitempty"`
	// Dir is the command's working directory (default: the runner's).
	Dir string `json:"dir,omitempty" yaml:"dir,omitempty"`
}

// Defaults and bounds of a UserServer.
const (
	DefaultHealth       = "/healthz"
	DefaultStartTimeout = 15 * time.Second
	MaxStartTimeout     = 5 * time.Minute
	MaxUserServers      = 32
)

// lookPath finds a bare command name on PATH.
var lookPath = exec.LookPath

// placeholder matches {word}: a placeholder, known or not.
var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

// envName is a portable environment variable name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (s *UserServer) fillDefaults() {
	if s.Health == "" {
		s.Health = DefaultHealth
	}
	setDefault(&s.StartTimeout, DefaultStartTimeout)
}

func (s *UserServer) check(f string) error {
	if _, err := catalog.New(catalog.Entry{Name: s.Name, Kind: catalog.User}); err != nil {
		return fieldError(f+".name", "%q: a server name may hold only a-z, 0-9 and '-' (1-32 characters)", s.Name)
	}
	if len(s.Command) == 0 || strings.TrimSpace(s.Command[0]) == "" {
		return fieldError(f+".command", "required: the program and its arguments, e.g. [\"./my-api\", \"--listen\", \"{addr}\"]")
	}
	uses := false
	for i, a := range s.Command {
		u, err := checkPlaceholders(a)
		if err != nil {
			return fieldError(fmt.Sprintf("%s.command[%d]", f, i), "%v", err)
		}
		uses = uses || u
	}
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !envName.MatchString(k) {
			return fieldError(f+".env", "%q is not a variable name", k)
		}
		u, err := checkPlaceholders(s.Env[k])
		if err != nil {
			return fieldError(f+".env."+k, "%v", err)
		}
		uses = uses || u
	}
	if !uses {
		return fieldError(f+".command", "says nowhere where to listen: put {port} or {addr} in an argument or an env value")
	}
	if !strings.HasPrefix(s.Health, "/") {
		return fieldError(f+".health", "%q must be a path starting with '/'", s.Health)
	}
	if t := s.StartTimeout.D(); t <= 0 || t > MaxStartTimeout {
		return fieldError(f+".start_timeout", "%s out of range (0s, %s]", t, MaxStartTimeout)
	}
	return nil
}

// checkPlaceholders reports whether s uses a placeholder, and refuses any
// placeholder but {port} and {addr}.
func checkPlaceholders(s string) (bool, error) {
	uses := false
	for _, m := range placeholder.FindAllString(s, -1) {
		switch m {
		case "{port}", "{addr}":
			uses = true
		default:
			return false, fmt.Errorf("unknown placeholder %s in %q (only {port} and {addr})", m, s)
		}
	}
	return uses, nil
}

// Expand returns the command, environment (as KEY=VALUE, sorted) and health
// path with the placeholders filled in for a server on 127.0.0.1:port.
func (s UserServer) Expand(port int) (argv, env []string) {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	r := strings.NewReplacer("{port}", strconv.Itoa(port), "{addr}", addr)
	for _, a := range s.Command {
		argv = append(argv, r.Replace(a))
	}
	for k, v := range s.Env {
		env = append(env, k+"="+r.Replace(v))
	}
	sort.Strings(env)
	return argv, env
}

// Target is a server that runs already: the run attaches to it, with no
// life cycle of its own (no start, no stop, no pinning).
type Target struct {
	// Name labels its cells (default "target").
	Name string `json:"name" yaml:"name"`
	// URL is http://HOST:PORT, the server's root.
	URL string `json:"url" yaml:"url"`
	// PID, when known, is its process: the runner samples its process tree.
	PID int `json:"pid,omitempty" yaml:"pid,omitempty"`
}

// DefaultTargetName labels the cells of an attached target.
const DefaultTargetName = "target"

func (t *Target) check() error {
	if _, err := catalog.New(catalog.Entry{Name: t.Name, Kind: catalog.User}); err != nil {
		return fieldError("target.name", "%q: a server name may hold only a-z, 0-9 and '-' (1-32 characters)", t.Name)
	}
	if builtinModel(t.Name) {
		return fieldError("target.name", "%q is a built-in model: name the target differently", t.Name)
	}
	u, err := url.Parse(t.URL)
	switch {
	case err != nil:
		return fieldError("target.url", "%v", err)
	case u.Scheme != "http":
		return fieldError("target.url", "%q: want http://HOST:PORT (https is not supported)", t.URL)
	case u.Port() == "" || u.Hostname() == "":
		return fieldError("target.url", "%q: want http://HOST:PORT, with the port", t.URL)
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil || u.Fragment != "":
		return fieldError("target.url", "%q: want the server's root, http://HOST:PORT (the plan's targets give the paths)", t.URL)
	}
	if t.PID < 0 {
		return fieldError("target.pid", "%d must be a process id", t.PID)
	}
	return nil
}

// UserServer returns the plan's user server of that name.
func (p *Plan) UserServer(name string) (UserServer, bool) {
	for _, s := range p.Servers {
		if s.Name == name {
			return s, true
		}
	}
	return UserServer{}, false
}

// checkServers validates the user servers: names unique and distinct from the
// built-in models.
func (p *Plan) checkServers() error {
	if len(p.Servers) > MaxUserServers {
		return fieldError("servers", "%d servers is above the limit of %d", len(p.Servers), MaxUserServers)
	}
	if t := p.Target; t != nil {
		if err := t.check(); err != nil {
			return err
		}
		if len(p.Models) != 1 || p.Models[0] != t.Name {
			return fieldError("models", "%v: with a target, the models are the target alone ([%s])", p.Models, t.Name)
		}
	}
	seen := map[string]bool{}
	for i := range p.Servers {
		s := &p.Servers[i]
		f := fmt.Sprintf("servers[%d]", i)
		if err := s.check(f); err != nil {
			return err
		}
		if builtinModel(s.Name) {
			return fieldError(f+".name", "%q is a built-in model: name your server differently", s.Name)
		}
		if seen[s.Name] {
			return fieldError(f+".name", "%q is used by another server", s.Name)
		}
		seen[s.Name] = true
	}
	return nil
}

// Executable reports why argv[0] cannot be run, or nil: a path must name an
// executable file, a bare name must be found on PATH. It reads the file
// system, so the runner calls it before the first cell, not Validate.
func (s UserServer) Executable() error {
	prog := s.Command[0]
	if !strings.Contains(prog, "/") {
		if _, err := lookPath(prog); err != nil {
			return fmt.Errorf("server %s: command %q: not found in PATH", s.Name, prog)
		}
		return nil
	}
	path := prog
	if s.Dir != "" && !strings.HasPrefix(prog, "/") {
		path = s.Dir + "/" + prog
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("server %s: command %q: %v", s.Name, prog, unwrapPathError(err))
	case fi.IsDir():
		return fmt.Errorf("server %s: command %q is a directory", s.Name, prog)
	case fi.Mode()&0o111 == 0:
		return fmt.Errorf("server %s: command %q is not executable (chmod +x?)", s.Name, prog)
	}
	return nil
}

// builtinModel reports whether name is a model concbench knows without a plan.
func builtinModel(name string) bool {
	_, ok := catalog.Lookup(name)
	return ok
}

// Catalog returns the built-in catalog followed by the plan's user servers.
func (p *Plan) Catalog() (*catalog.Catalog, error) {
	entries := make([]catalog.Entry, len(p.Servers))
	for i, s := range p.Servers {
		entries[i] = catalog.Entry{Name: s.Name, Kind: catalog.User, Summary: "user server: " + strings.Join(s.Command, " ")}
	}
	return catalog.Builtin().With(entries...)
}

// knownModel reports whether a plan may list name in its models: a built-in
// model, one of its user servers or its target.
func (p *Plan) knownModel(name string) bool {
	if builtinModel(name) || p.Target != nil && p.Target.Name == name {
		return true
	}
	_, ok := p.UserServer(name)
	return ok
}

// modelNames lists what a plan may name in models, for error messages.
func (p *Plan) modelNames() string {
	names := catalog.Names()
	if p.Target != nil {
		names = append(names, p.Target.Name)
	}
	for _, s := range p.Servers {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// ownRoutes reports whether every model of the plan is the user's own server
// (declared in servers, or the target): its routes are then its own, not
// concbench's route table.
func (p *Plan) ownRoutes() bool {
	for _, m := range p.Models {
		if builtinModel(m) {
			return false
		}
	}
	return len(p.Models) > 0
}

// isOwnRoute reports whether target is a path and query outside concbench's
// route table, well formed: it starts with '/' and names no route of the
// table (whose parameters are then checked as usual).
func isOwnRoute(target string) bool {
	if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \t\r\n#") {
		return false
	}
	path, _, _ := strings.Cut(target, "?")
	_, err := workloads.Parse("GET", path, "")
	return err != nil && err.Status == 404
}
