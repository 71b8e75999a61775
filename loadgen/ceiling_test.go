package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// The test binary doubles as a trivial /plain server for TestCeiling: with
// LOADGEN_TEST_SERVE=fasthttp|nethttp it listens on 127.0.0.1:0, prints the
// address and serves until its stdin closes.
func TestMain(m *testing.M) {
	if kind := os.Getenv("LOADGEN_TEST_SERVE"); kind != "" {
		if err := serveForever(kind); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func serveForever(kind string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	switch kind {
	case "fasthttp":
		return (&fasthttp.Server{Handler: func(c *fasthttp.RequestCtx) {
			c.SetContentType("text/plain")
			c.SetBodyString("hello\n")
		}}).Serve(ln)
	case "nethttp":
		return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "hello\n")
		}))
	}
	return fmt.Errorf("LOADGEN_TEST_SERVE=%q: want fasthttp or nethttp", kind)
}

// startServer starts the test binary as a server of the given kind, pinned to
// cpu with taskset when there is one, and returns its base URL.
func startServer(t *testing.T, kind, cpu string) string {
	t.Helper()
	args := []string{os.Args[0], "-test.run=^$"}
	if path, err := exec.LookPath("taskset"); err == nil && cpu != "" {
		args = append([]string{path, "-c", cpu}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "LOADGEN_TEST_SERVE="+kind)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("server %s: %v", kind, err)
	}
	return "http://" + strings.TrimSpace(addr)
}

var wrkRate = regexp.MustCompile(`Requests/sec:\s*([0-9.]+)`)

// wrk runs wrk -t1 -c64 against url for d and returns its rate (0 when wrk
// is not installed).
func wrk(t *testing.T, url string, d time.Duration) float64 {
	path, err := exec.LookPath("wrk")
	if err != nil {
		return 0
	}
	cmd := exec.Command(path, "-t1", "-c64", "-d"+d.String(), url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	m := wrkRate.FindSubmatch(out)
	if m == nil {
		t.Fatalf("wrk: no Requests/sec in\n%s", out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	t.Logf("    wrk: %.1f µs CPU/request", float64(cpu)/1e3/(v*d.Seconds()))
	return v
}

// TestCeiling measures the generator's ceiling with each transport against a
// trivial fasthttp and net/http server in a child process, and wrk's rate
// when it is installed, interleaved (A B wrk A B wrk …). It takes minutes, so
// it only runs when asked; pin the generator to one CPU and the server to the
// other:
//
//	CONCBENCH_CEILING=1 taskset -c 0 go test -run TestCeiling -v -timeout 30m ./loadgen/
//
// CONCBENCH_CEILING_REPS (default 3), CONCBENCH_CEILING_SERVERS (default
// "fasthttp,nethttp") and CONCBENCH_SERVER_CPU (default 1) adjust it.
func TestCeiling(t *testing.T) {
	if os.Getenv("CONCBENCH_CEILING") == "" {
		t.Skip("set CONCBENCH_CEILING=1 to measure the generator's ceiling (minutes)")
	}
	reps := 3
	if v, err := strconv.Atoi(os.Getenv("CONCBENCH_CEILING_REPS")); err == nil && v > 0 {
		reps = v
	}
	servers := []string{"fasthttp", "nethttp"}
	if v := os.Getenv("CONCBENCH_CEILING_SERVERS"); v != "" {
		servers = strings.Split(v, ",")
	}
	cpu := os.Getenv("CONCBENCH_SERVER_CPU")
	if cpu == "" {
		cpu = "1"
	}
	t.Logf("generator: GOMAXPROCS %d, NumCPU %d (run under taskset -c 0 to pin it)", runtime.GOMAXPROCS(0), runtime.NumCPU())
	for _, srv := range servers {
		url := startServer(t, srv, cpu)
		rates := map[string][]float64{}
		cpus := map[string][]float64{}
		for rep := 0; rep < reps; rep++ {
			for _, tr := range transports {
				res, err := Ceiling(context.Background(), url, CeilingOptions{Transport: tr, LagRates: []float64{}})
				if err != nil {
					t.Fatalf("Ceiling(%s, %s): %v", url, tr, err)
				}
				var steps []string
				for _, s := range res.Steps {
					mark := "ok"
					if !s.Sustained {
						mark = s.Why
					}
					steps = append(steps, fmt.Sprintf("%.0f:%s", s.Offered, mark))
				}
				var cpu time.Duration // per request, at the best sustained step
				for _, s := range res.Steps {
					if s.Sustained && s.Achieved == res.RPS {
						cpu = s.CPUPerRequest
					}
				}
				t.Logf("server %s, transport %s, rep %d: ceiling %.0f req/s, %.1f µs CPU/request there; last steps %s",
					srv, tr, rep, res.RPS, float64(cpu)/1e3, strings.Join(steps[max(0, len(steps)-4):], ", "))
				rates[tr] = append(rates[tr], res.RPS)
				cpus[tr] = append(cpus[tr], float64(cpu)/1e3)
			}
			if w := wrk(t, url+"/plain", 5*time.Second); w > 0 {
				t.Logf("server %s, wrk -t1 -c64, rep %d: %.0f req/s", srv, rep, w)
				rates["wrk"] = append(rates["wrk"], w)
			}
		}
		med := func(v []float64) float64 {
			if len(v) == 0 {
				return 0
			}
			v = slices.Clone(v)
			slices.Sort(v)
			return v[len(v)/2]
		}
		line := fmt.Sprintf("server %s, medians of %d:", srv, reps)
		for _, k := range []string{TransportFastHTTP, TransportNetHTTP, "wrk"} {
			line += fmt.Sprintf(" %s %.0f req/s %v", k, med(rates[k]), rates[k])
			if c := cpus[k]; len(c) > 0 {
				line += fmt.Sprintf(" (%.1f µs CPU/request)", med(c))
			}
			line += ";"
		}
		if w := med(rates["wrk"]); w > 0 {
			line += fmt.Sprintf(" fasthttp/wrk %.2f, nethttp/wrk %.2f", med(rates[TransportFastHTTP])/w, med(rates[TransportNetHTTP])/w)
		}
		t.Log(line)
	}
}
