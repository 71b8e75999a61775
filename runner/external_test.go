package runner

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/procstat"
	"github.com/concbench/concbench/result"
)

// userPlan is testPlan's scenario against the plan's own server named mine,
// started by command.
func userPlan(t *testing.T, server string) plan.Plan {
	t.Helper()
	src := "name: test\nmodels: [mine]\nduration: 1s\nwarmup: 200ms\ntimeout: 2s\nservers:\n" + server +
		"scenarios:\n  - name: mix\n    max_connections: 16\n    mix:\n" +
		"      - {name: plain, target: /plain, weight: 9}\n      - {name: cpu, target: \"/cpu?iters=2000\", weight: 1, heavy: true}\n" +
		"    rates: [100]\n"
	p, err := plan.Parse([]byte(src), "test")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUserServer: a plan's own server, started by its command with {addr}
// filled in, is measured like a model: requests, histograms, its process
// sampled, and said to serve no /stats.
func TestUserServer(t *testing.T) {
	needBinary(t)
	defer checkNoChildren(t)
	p := userPlan(t, "  - {name: mine, command: [\""+binary+"\", serve, --model, goroutine, --addr, \"{addr}\"], health: /healthz}\n")
	o, err := Run(context.Background(), Options{Plan: p, Binary: binary, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Run.Cells) != 1 {
		t.Fatalf("%d cells; want 1", len(o.Run.Cells))
	}
	c := o.Run.Cells[0]
	if c.Requests <= 0 || c.OK+c.Errors != c.Requests || len(c.Classes) != 2 {
		t.Errorf("cell: %d requests, %d ok, %d errors, %d classes", c.Requests, c.OK, c.Errors, len(c.Classes))
	}
	if len(c.ServerArgs) < 6 || c.ServerArgs[0] != binary || !strings.HasPrefix(c.ServerArgs[5], "127.0.0.1:") {
		t.Errorf("server args %q; want the command with {addr} filled in", c.ServerArgs)
	}
	if r := c.Resources; r.Samples < 2 || r.PeakRSSBytes <= 0 || r.PeakThreads <= 0 {
		t.Errorf("resources %+v; want the process sampled", r)
	}
	if !hasReason(c, "server figures not sampled: the server serves no concbench /stats") {
		t.Errorf("reasons %q; want the missing /stats said", c.Validity.Reasons)
	}
	for _, pid := range c.Server.PIDs {
		if procstat.Alive(pid) {
			t.Errorf("server process %d still running after the run", pid)
		}
	}
}

// TestUserServerNeverHealthy: a server that never answers its health path
// makes an invalid cell that says so, and its stderr is kept.
func TestUserServerNeverHealthy(t *testing.T) {
	needBinary(t)
	defer checkNoChildren(t)
	p := userPlan(t, "  - {name: mine, command: [sh, -c, \"echo booting on $0 >&2; exec sleep 30\", \"{addr}\"], start_timeout: 500ms}\n")
	o, err := Run(context.Background(), Options{Plan: p, Binary: binary, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c := o.Run.Cells[0]
	if c.Validity.Valid || !hasReason(c, "server did not start: /healthz did not answer 200 within 500ms") {
		t.Errorf("validity %+v; want invalid, /healthz not answered", c.Validity)
	}
	b, err := os.ReadFile(filepath.Join(o.Dir, c.Files["server-log"]))
	if err != nil || !strings.Contains(string(b), "booting on 127.0.0.1:") {
		t.Errorf("server log %q (%v); want its stderr", b, err)
	}
}

// TestUserServerNotExecutable: a command that cannot run fails the run before
// anything starts, as a plan error.
func TestUserServerNotExecutable(t *testing.T) {
	p := userPlan(t, "  - {name: mine, command: [./no-such-server, \"{addr}\"]}\n")
	o, err := Run(context.Background(), Options{Plan: p, Binary: "/bin/true", OutDir: t.TempDir()})
	var pe *PlanError
	if o != nil || !asPlanError(err, &pe) || !strings.Contains(err.Error(), `command "./no-such-server": no such file or directory`) {
		t.Errorf("Run = %v, %v; want a PlanError naming the command", o, err)
	}
}

// TestAttach: a running server is loaded without being started or stopped;
// its process is sampled when its pid is given, and said not sampled when not.
func TestAttach(t *testing.T) {
	needBinary(t)
	cmd := exec.Command(binary, "serve", "--model", "goroutine", "--addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	var a launch.Announced
	for sc := bufio.NewScanner(stdout); sc.Scan() && !a.Scan(sc.Text()); {
	}
	if a.Addr == "" {
		t.Fatal("the server announced no address")
	}
	for _, pid := range []int{cmd.Process.Pid, 0} {
		p := testPlan(t, []string{"goroutine"}, 100)
		p.Target = &plan.Target{Name: "mine", URL: "http://" + a.Addr, PID: pid}
		p.Models, p.SLOs = []string{"mine"}, nil
		o, err := Run(context.Background(), Options{Plan: p, Binary: binary, OutDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		c := o.Run.Cells[0]
		if c.Requests <= 0 || c.Model != "mine" || c.ServerArgs[1] != "http://"+a.Addr {
			t.Errorf("pid %d: cell %s, %d requests, server args %q", pid, c.Model, c.Requests, c.ServerArgs)
		}
		sampled := c.Resources.Samples > 0
		if sampled != (pid != 0) || hasReason(c, "process figures not sampled") == (pid != 0) {
			t.Errorf("pid %d: %d samples, reasons %q", pid, c.Resources.Samples, c.Validity.Reasons)
		}
		if !procstat.Alive(cmd.Process.Pid) {
			t.Fatalf("pid %d: the attached server was stopped by the run", pid)
		}
	}
}

func hasReason(c result.Cell, prefix string) bool {
	for _, r := range c.Validity.Reasons {
		if strings.HasPrefix(r, prefix) {
			return true
		}
	}
	return false
}

func asPlanError(err error, pe **PlanError) bool {
	e, ok := err.(*PlanError)
	*pe = e
	return ok
}
