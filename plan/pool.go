package plan

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// PoolWarnings names the scenarios whose offered rate needs more requests in
// flight than the generator's connections: by Little's law a pool of N
// connections carries at most N / latency requests per second, so at rate ×
// expected latency > N the pool, not the server, limits the cell (and its
// verdict says "pool-bound"). The expected latency is a lower bound read from
// the mix: the wait its targets ask for ("ms=50" of /io), weighted by class.
// maxConns is the plan's connection count after defaults.
func (p *Plan) PoolWarnings(maxConns int) []string {
	var out []string
	for _, s := range p.Scenarios {
		conns := maxConns
		if s.MaxConnections > 0 {
			conns = s.MaxConnections
		}
		var sum, weights float64
		for _, c := range s.Mix {
			sum += float64(c.Weight) * targetWait(c.Target).Seconds()
			weights += float64(c.Weight)
		}
		if weights == 0 || sum == 0 || conns <= 0 {
			continue
		}
		latency := sum / weights
		for _, r := range s.Rates {
			if need := r * latency; need > float64(conns) {
				out = append(out, fmt.Sprintf("scenario %q at %g req/s needs ≥ %.0f requests in flight (rate × expected latency %s) but has %d connections: its cells will be pool-bound; raise max_connections to at least %.0f",
					s.Name, r, need, time.Duration(latency*float64(time.Second)), conns, need*1.25))
			}
		}
	}
	return out
}

// targetWait is the wait a target asks for in its "ms" query parameter
// (the /io workload), or 0.
func targetWait(target string) time.Duration {
	i := strings.IndexByte(target, '?')
	if i < 0 {
		return 0
	}
	q, err := url.ParseQuery(target[i+1:])
	if err != nil {
		return 0
	}
	ms, err := strconv.ParseFloat(q.Get("ms"), 64)
	if err != nil || ms <= 0 {
		return 0
	}
	return time.Duration(ms * float64(time.Millisecond))
}
