package loadgen

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/concbench/concbench/plan"
)

// maxBlock bounds the length of one block of the mix sequence (the sum of the
// weights after dividing them by their greatest common divisor).
const maxBlock = 1 << 20

// mixSeq is the deterministic weighted sequence of classes a mix sends. It is
// made of blocks of sum(weights) requests; each block holds exactly weight_i
// requests of class i in an order shuffled by a PCG generator seeded with the
// attack's seed. So proportions are exact over every block (a 99:1 mix sends
// exactly one heavy request per 100) while heavy requests do not land at a fixed
// period that could resonate with the server, and the same seed always yields
// the same sequence. mixSeq is not safe for concurrent use.
type mixSeq struct {
	block []int // class indexes, weight_i copies of i
	pos   int
	rng   *rand.Rand
}

func newMixSeq(weights []int, seed int64) (*mixSeq, error) {
	if len(weights) == 0 {
		return nil, fmt.Errorf("empty mix")
	}
	g := 0
	for i, w := range weights {
		if w <= 0 {
			return nil, fmt.Errorf("class %d: weight %d, want > 0", i, w)
		}
		g = gcd(g, w)
	}
	total := 0
	for _, w := range weights {
		total += w / g
		if total > maxBlock {
			return nil, fmt.Errorf("weights %v: their sum divided by their common divisor exceeds %d", weights, maxBlock)
		}
	}
	s := &mixSeq{
		block: make([]int, 0, total),
		rng:   rand.New(rand.NewPCG(uint64(seed), 0x636f6e6362656e63)), // "concbenc"
	}
	for i, w := range weights {
		for range w / g {
			s.block = append(s.block, i)
		}
	}
	s.pos = len(s.block) // shuffle before the first use
	return s, nil
}

// next returns the class index of the next request.
func (s *mixSeq) next() int {
	if s.pos == len(s.block) {
		s.rng.Shuffle(len(s.block), func(i, j int) { s.block[i], s.block[j] = s.block[j], s.block[i] })
		s.pos = 0
	}
	c := s.block[s.pos]
	s.pos++
	return c
}

// MixSeed is the mix seed of a plan's cell (Config.Seed): it depends on the
// scenario, the rate and the repetition, not on the model, so every model of
// a repetition is sent the same sequence of classes (common random numbers).
// A heavy class lands at a random place in each block, so how often two heavy
// requests come close together changes from seed to seed, and with it a
// blocked server's cheap p99 (in the fidelity plan's cpu-mix, one hash of
// 100 ms per 50 requests at 200 req/s: two within 100 ms make the victims
// wait for both); seeded per model, a comparison of two servers mixed that
// spread into theirs.
func MixSeed(scenario string, rate float64, rep int) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s.r%g.%d", scenario, rate, rep)
	return int64(h.Sum64() >> 1)
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// mixTargeter hands vegeta's workers the next class of the mix. vegeta calls
// a Targeter from each worker's hit(), after
// the request's Seq and Timestamp are taken and right before client.Do, so the
// k-th call is the k-th request handed to the HTTP client (the k-th element of
// the sequence); it is not necessarily Seq k when two workers pick up ticks at
// the same instant, which is why results are matched to classes by URL.
type mixTargeter struct {
	mu      sync.Mutex // guards seq
	seq     *mixSeq
	targets []vegeta.Target
}

func (m *mixTargeter) targeter() vegeta.Targeter {
	return func(tgt *vegeta.Target) error {
		m.mu.Lock()
		c := m.seq.next()
		m.mu.Unlock()
		*tgt = m.targets[c] // Header is nil: Target.Request copies nothing
		return nil
	}
}

// classURLs checks the mix and returns the URL of every class. Two classes with
// the same URL are refused: results are matched to classes by URL.
func classURLs(base string, mix []plan.Class) ([]string, error) {
	if len(mix) == 0 {
		return nil, fmt.Errorf("loadgen: empty mix: want at least one class")
	}
	base = strings.TrimRight(base, "/")
	urls := make([]string, len(mix))
	seen := make(map[string]string, len(mix))
	names := make(map[string]bool, len(mix))
	for i, c := range mix {
		if c.Name == "" {
			return nil, fmt.Errorf("loadgen: mix class %d: empty name", i)
		}
		if names[c.Name] {
			return nil, fmt.Errorf("loadgen: mix class %q appears twice", c.Name)
		}
		names[c.Name] = true
		if c.Weight <= 0 {
			return nil, fmt.Errorf("loadgen: mix class %q: weight %d, want > 0", c.Name, c.Weight)
		}
		t := c.Target
		if !strings.HasPrefix(t, "/") {
			t = "/" + t
		}
		u := base + t
		if _, err := url.ParseRequestURI(u); err != nil {
			return nil, fmt.Errorf("loadgen: mix class %q: target %q: %v", c.Name, c.Target, err)
		}
		if prev, ok := seen[u]; ok {
			return nil, fmt.Errorf("loadgen: mix classes %q and %q have the same target %q: their results could not be told apart", prev, c.Name, c.Target)
		}
		seen[u] = c.Name
		urls[i] = u
	}
	return urls, nil
}

// newMixTargeter returns the targeter of a mix. closeConns asks for
// "Connection: close" on every request (Config.NewConnections).
func newMixTargeter(urls []string, mix []plan.Class, seed int64, closeConns bool) (*mixTargeter, error) {
	weights := make([]int, len(mix))
	for i, c := range mix {
		weights[i] = c.Weight
	}
	seq, err := newMixSeq(weights, seed)
	if err != nil {
		return nil, fmt.Errorf("loadgen: mix: %v", err)
	}
	m := &mixTargeter{seq: seq, targets: make([]vegeta.Target, len(urls))}
	for i, u := range urls {
		m.targets[i] = vegeta.Target{Method: http.MethodGet, URL: u}
		if closeConns {
			m.targets[i].Header = http.Header{"Connection": {"close"}}
		}
	}
	return m, nil
}
