package shard

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/loadgen"
	"github.com/concbench/concbench/result"
)

// TestSeparateHosts simulates a server host and a generator host: two
// network namespaces joined by a veth pair, 10.213.0.1/30 (server) and
// 10.213.0.2/30 (generators), addresses that exist inside them only. A
// model serves in one; two shards load it from the other through their own
// network stack; their results travel as log frames (attack --emit, as from
// Kubernetes pods), are collected and merged. Root and `ip netns` needed.
func TestSeparateHosts(t *testing.T) {
	switch {
	case testing.Short():
		t.Skip("builds concbench and starts processes: not in -short mode")
	case os.Geteuid() != 0:
		t.Skip("needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2) for network namespaces")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tag := fmt.Sprint(os.Getpid() % 100000)
	srvNS, genNS := "cbsrv"+tag, "cbgen"+tag
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	if out, err := exec.Command("ip", "netns", "add", srvNS).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace here: %v: %s", err, out)
	}
	// Deleting the namespaces deletes the veth pair with them; cleanups run
	// last-registered first, so the server is stopped before this.
	t.Cleanup(func() {
		for _, ns := range []string{srvNS, genNS} {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil && !bytes.Contains(out, []byte("No such file")) {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		}
	})
	ip("netns", "add", genNS)
	ip("link", "add", "cbv"+tag+"s", "netns", srvNS, "type", "veth", "peer", "name", "cbv"+tag+"g", "netns", genNS)
	for _, h := range []struct{ ns, dev, addr string }{{srvNS, "cbv" + tag + "s", "10.213.0.1/30"}, {genNS, "cbv" + tag + "g", "10.213.0.2/30"}} {
		ip("-n", h.ns, "addr", "add", h.addr, "dev", h.dev)
		ip("-n", h.ns, "link", "set", h.dev, "up")
		ip("-n", h.ns, "link", "set", "lo", "up")
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "concbench")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/concbench/concbench").CombinedOutput(); err != nil {
		t.Fatalf("build concbench: %v: %s", err, out)
	}

	// The server host: a model listening on its veth address only.
	srv := exec.Command("ip", "netns", "exec", srvNS, bin, "serve", "--model", "goroutine", "--addr", "10.213.0.1:0", "--allow-remote", "--grace", "1s")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var srvErr bytes.Buffer
	srv.Stderr = &srvErr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = srv.Process.Kill()
			<-done
		}
	})
	var a launch.Announced
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !a.Scan(sc.Text()) {
	}
	if a.Addr == "" {
		t.Fatalf("server announced no address: %s", srvErr.String())
	}
	go func() { // keep its stdout drained
		for sc.Scan() {
		}
	}()
	if !strings.HasPrefix(a.Addr, "10.213.0.1:") {
		t.Fatalf("server listens on %s; want 10.213.0.1", a.Addr)
	}

	// The generator host: two shards of one cell, one start barrier.
	planFile := filepath.Join(dir, "plan.yaml")
	if err := os.WriteFile(planFile, []byte("name: netns\nmodels: [goroutine]\nduration: 1s\nwarmup: 200ms\ntimeout: 2s\nscenarios:\n"+
		"  - name: mix\n    max_connections: 16\n    mix:\n      - {name: plain, target: /plain, weight: 9}\n"+
		"      - {name: cpu, target: \"/cpu?iters=2000\", weight: 1, heavy: true}\n    rates: [200]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const rate, n = 200, 2
	start := time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)
	logs := make([]bytes.Buffer, n)
	var wg sync.WaitGroup
	for i := range n {
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", genNS, bin, "attack", "--plan", planFile,
			"--target", "http://"+a.Addr, "--allow-remote", "--shard", fmt.Sprintf("%d/%d", i, n), "--start-at", start,
			"--out", filepath.Join(dir, fmt.Sprint("shard", i)), "--emit")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs[i], &stderr
		wg.Go(func() {
			if err := cmd.Run(); err != nil {
				t.Errorf("shard %d: %v: %s", i, err, stderr.String())
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// Collected from the log frames, as from pods, and merged.
	dirs, err := Collect(bytes.NewReader(append(logs[1].Bytes(), logs[0].Bytes()...)), filepath.Join(dir, "collected"))
	if err != nil || len(dirs) != n {
		t.Fatalf("Collect = %v, %v; want %d directories", dirs, err, n)
	}
	in, err := Load(dirs)
	if err != nil {
		t.Fatal(err)
	}
	run, err := Merge(in, filepath.Join(dir, "merged"))
	if err != nil {
		t.Fatal(err)
	}
	m := run.Cells[0]
	var reqs, missed, warm int64
	for _, s := range in {
		c := s.Run.Cells[0]
		reqs += c.Requests
		missed += c.Shards[0].Missed
		warm += c.Shards[0].Generator.WarmupRequests
		if c.OK == 0 {
			t.Errorf("shard %s: no request answered across the veth pair: %+v", Name(c.Shards[0]), c.Validity)
		}
	}
	if m.Requests != reqs || m.Rate != rate {
		t.Errorf("merged %d requests at %g req/s; want the shards' %d at %d", m.Requests, m.Rate, reqs, rate)
	}
	if offered, want := warm+reqs+missed, int64(rate*1.2); math.Abs(float64(offered-want)) > n {
		t.Errorf("shards: %d warmup + %d window + %d missed = %d requests; want the schedule's %d", warm, reqs, missed, offered, want)
	}
	for j, mc := range m.Classes {
		sum := loadgen.NewHistogram()
		for _, s := range in {
			sum.Merge(decode(t, s.Run.Cells[0].Classes[j].Response))
		}
		if got := decode(t, mc.Response); !got.Equals(sum) || got.TotalCount() != mc.Requests {
			t.Errorf("class %s: merged response histogram (%d values) is not the sum of the shards' (%d)", mc.Name, got.TotalCount(), sum.TotalCount())
		}
	}
	if err := result.Save(filepath.Join(dir, "merged"), run); err != nil {
		t.Fatal(err)
	}
	t.Logf("merged cell %s: %d requests, valid %t %q", m.ID, m.Requests, m.Validity.Valid, m.Validity.Reasons)
}
