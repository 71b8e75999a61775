package plan

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/concbench/concbench/catalog"
)

// withServer is base with a user server "api" listed in its models.
func withServer(server string) string {
	return strings.Replace(base, "models: [goroutine]", "models: [goroutine, api]\nservers:\n"+server, 1)
}

func TestUserServerParse(t *testing.T) {
	p, err := Parse([]byte(withServer(`  - name: api
    command: ["./api", "--listen", "{addr}"]
    env: {GOMAXPROCS: "1", PORT: "{port}"}
`)), "q")
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	s, ok := p.UserServer("api")
	if !ok {
		t.Fatalf("UserServer(api) not found")
	}
	if s.Health != DefaultHealth || s.StartTimeout.D() != DefaultStartTimeout {
		t.Errorf("defaults: health %q, start_timeout %s; want %q, %s", s.Health, s.StartTimeout, DefaultHealth, DefaultStartTimeout)
	}
	argv, env := s.Expand(4321)
	if want := []string{"./api", "--listen", "127.0.0.1:4321"}; !reflect.DeepEqual(argv, want) {
		t.Errorf("Expand argv = %q; want %q", argv, want)
	}
	if want := []string{"GOMAXPROCS=1", "PORT=4321"}; !reflect.DeepEqual(env, want) {
		t.Errorf("Expand env = %q; want %q", env, want)
	}
	if n := p.NumCells(); n != 2 {
		t.Errorf("NumCells = %d; want 2 (goroutine and api)", n)
	}
}

func TestUserServerBad(t *testing.T) {
	known := strings.Join(catalog.Names(), ", ")
	tests := []struct {
		name, server, want string
	}{
		{"no command", "  - name: api\n", `plan q: servers[0].command: required: the program and its arguments, e.g. ["./my-api", "--listen", "{addr}"]`},
		{"unknown placeholder", "  - {name: api, command: [./api, \"{host}:{port}\"]}\n", `plan q: servers[0].command[1]: unknown placeholder {host} in "{host}:{port}" (only {port} and {addr})`},
		{"no placeholder", "  - {name: api, command: [./api]}\n", "plan q: servers[0].command: says nowhere where to listen: put {port} or {addr} in an argument or an env value"},
		{"bad env name", "  - {name: api, command: [./api, \"{addr}\"], env: {\"A-B\": x}}\n", `plan q: servers[0].env: "A-B" is not a variable name`},
		{"env placeholder", "  - {name: api, command: [./api, \"{addr}\"], env: {A: \"{cpu}\"}}\n", `plan q: servers[0].env.A: unknown placeholder {cpu} in "{cpu}" (only {port} and {addr})`},
		{"health", "  - {name: api, command: [./api, \"{addr}\"], health: healthz}\n", `plan q: servers[0].health: "healthz" must be a path starting with '/'`},
		{"start timeout", "  - {name: api, command: [./api, \"{addr}\"], start_timeout: 1h}\n", "plan q: servers[0].start_timeout: 1h0m0s out of range (0s, 5m0s]"},
		{"built-in name", "  - {name: goroutine, command: [./api, \"{addr}\"]}\n", `plan q: servers[0].name: "goroutine" is a built-in model: name your server differently`},
		{"twice", "  - {name: api, command: [./api, \"{addr}\"]}\n  - {name: api, command: [./b, \"{addr}\"]}\n", `plan q: servers[1].name: "api" is used by another server`},
		{"bad name", "  - {name: \"../x\", command: [./api, \"{addr}\"]}\n", `plan q: servers[0].name: "../x": a server name may hold only a-z, 0-9 and '-' (1-32 characters)`},
		{"not declared", "  - {name: web, command: [./api, \"{addr}\"]}\n", `plan q: models[1]: unknown model "api" (one of ` + known + `, web)`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(withServer(tt.server)), "q")
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: Parse = %v;\n want %s", tt.name, err, tt.want)
		}
	}
}

func TestUserServerOverrides(t *testing.T) {
	p, err := Parse([]byte(withServer("  - {name: api, command: [./api, \"{addr}\"]}\n")), "q")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(Overrides{Models: []string{"api"}}); err != nil {
		t.Errorf("Apply(--models api) = %v; want nil", err)
	}
	if err := p.Apply(Overrides{Models: []string{"web"}}); err == nil || !strings.Contains(err.Error(), `--models: unknown model "web"`) {
		t.Errorf("Apply(--models web) = %v; want unknown model", err)
	}
}

func TestUserServerExecutable(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "srv")
	plain := filepath.Join(dir, "data")
	for name, mode := range map[string]os.FileMode{exe: 0o755, plain: 0o644} {
		if err := os.WriteFile(name, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		cmd, dir, want string
	}{
		{exe, "", ""},
		{"./srv", dir, ""},
		{"sh", "", ""},
		{plain, "", "is not executable (chmod +x?)"},
		{dir, "", "is a directory"},
		{filepath.Join(dir, "nope"), "", "no such file or directory"},
		{"no-such-program-concbench", "", "not found in PATH"},
	}
	for _, tt := range tests {
		s := UserServer{Name: "api", Command: []string{tt.cmd, "{addr}"}, Dir: tt.dir}
		err := s.Executable()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Executable(%q) = %v; want nil", tt.cmd, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Executable(%q) = %v; want an error containing %q", tt.cmd, err, tt.want)
		}
	}
}

// TestOwnRoutes: a plan whose models are all the user's servers may load
// their own routes; with a built-in model beside them it may not.
func TestOwnRoutes(t *testing.T) {
	own := `name: t
models: [api]
servers:
  - {name: api, command: [./api, "{addr}"]}
scenarios:
  - name: mix
    mix:
      - {name: users, target: "/api/users?page=2", weight: 9}
      - {name: plain, target: /plain, weight: 1}
    rates: [100]
`
	if _, err := Parse([]byte(own), "q"); err != nil {
		t.Errorf("own routes on own servers: Parse = %v; want nil", err)
	}
	for _, tt := range []struct{ name, src, want string }{
		{"beside a model", strings.Replace(own, "models: [api]", "models: [api, goroutine]", 1), `plan q: scenarios[0].mix[0].target: "/api/users?page=2": not found: no route "/api/users"`},
		{"concbench route still checked", strings.Replace(own, "target: /plain", `target: "/cpu?iters=0"`, 1), `plan q: scenarios[0].mix[1].target`},
		{"no name", strings.Replace(own, "{name: users, ", "{", 1), `plan q: scenarios[0].mix[0].name: "" must be`},
	} {
		if _, err := Parse([]byte(tt.src), "q"); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: Parse = %v; want %s…", tt.name, err, tt.want)
		}
	}
}
