package workloads

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// chain computes iters rounds of the /cpu hash chain independently of Hasher.
func chain(iters int) string {
	sum := sha256.Sum256([]byte("concbench"))
	for i := 0; i < iters; i++ {
		sum = sha256.Sum256(sum[:])
	}
	return hex.EncodeToString(sum[:])
}

func TestHash(t *testing.T) {
	first := sha256.Sum256([]byte("concbench"))
	second := sha256.Sum256(first[:])
	if got, want := Hash(1), hex.EncodeToString(second[:]); got != want {
		t.Errorf("Hash(1) = %s; want sha256(sha256(%q)) = %s", got, "concbench", want)
	}
	if got, want := Hash(0), hex.EncodeToString(first[:]); got != want {
		t.Errorf("Hash(0) = %s; want sha256(%q) = %s", got, "concbench", want)
	}
	for _, iters := range []int{2, 3, 1000} {
		if got, want := Hash(iters), chain(iters); got != want {
			t.Errorf("Hash(%d) = %s; want %s", iters, got, want)
		}
	}
}

func TestHasherChunked(t *testing.T) {
	check := func(iters, chunk int) {
		t.Helper()
		h := NewHasher(iters)
		steps, wantSteps := 0, (iters+chunk-1)/chunk
		for {
			steps++
			done := h.Step(chunk)
			if done {
				break
			}
			if steps >= wantSteps {
				t.Fatalf("NewHasher(%d): Step(%d) #%d = false; want true after %d steps", iters, chunk, steps, wantSteps)
			}
		}
		if steps != wantSteps {
			t.Errorf("NewHasher(%d): Step(%d) done after %d steps; want %d", iters, chunk, steps, wantSteps)
		}
		got := string(h.AppendHex(nil))
		if want := Hash(iters) + "\n"; got != want {
			t.Errorf("NewHasher(%d) stepped by %d: AppendHex = %q; want %q", iters, chunk, got, want)
		}
		if !h.Step(chunk) {
			t.Errorf("NewHasher(%d) stepped by %d: Step after done = false; want true", iters, chunk)
		}
		if again := string(h.AppendHex(nil)); again != got {
			t.Errorf("NewHasher(%d) stepped by %d: Step after done changed the digest to %q", iters, chunk, again)
		}
	}
	for _, iters := range []int{1, 2, 10, 999, 1000} {
		for _, chunk := range []int{1, 7, iters, iters + 1, 1 << 30} {
			check(iters, chunk)
		}
	}
}

func TestHasherStepNonPositive(t *testing.T) {
	for _, n := range []int{0, -1, -1000} {
		h := NewHasher(3)
		if h.Step(n) {
			t.Errorf("NewHasher(3).Step(%d) = true; want false (no work done)", n)
		}
		for i := 0; i < 2; i++ {
			if h.Step(1) {
				t.Fatalf("NewHasher(3): Step(%d), then Step(1) #%d = true; want false", n, i+1)
			}
		}
		if !h.Step(1) {
			t.Errorf("NewHasher(3): Step(%d), then Step(1) #3 = false; want true", n)
		}
		if got, want := string(h.AppendHex(nil)), Hash(3)+"\n"; got != want {
			t.Errorf("NewHasher(3): Step(%d) then 3×Step(1): AppendHex = %q; want %q", n, got, want)
		}
	}
	if h := NewHasher(0); !h.Step(0) {
		t.Errorf("NewHasher(0).Step(0) = false; want true")
	}
}

func TestAppendHex(t *testing.T) {
	h := NewHasher(5)
	h.Step(5)
	got := string(h.AppendHex([]byte("digest: ")))
	if want := "digest: " + Hash(5) + "\n"; got != want {
		t.Errorf("AppendHex(%q) = %q; want %q", "digest: ", got, want)
	}
}

func TestRunCPU(t *testing.T) {
	const iters = 1000
	want := Response{Status: 200, ContentType: TextPlain, Body: []byte(chain(iters) + "\n")}
	for _, req := range []Request{
		{Route: RouteCPU, Iters: iters},
		{Route: RouteCPU, Iters: iters, Chunk: 1, Defer: DeferTick},
		{Route: RouteCPU, Iters: iters, Chunk: 7, Defer: DeferTick},
		{Route: RouteCPU, Iters: iters, Chunk: 7, Defer: DeferLoop},
		{Route: RouteCPU, Iters: iters, Chunk: iters, Defer: DeferLoop},
		{Route: RouteCPU, Iters: iters, Chunk: MaxIters, Defer: DeferTick},
	} {
		if got := RunCPU(req); !sameResponse(got, want) {
			t.Errorf("RunCPU(%+v) = %s; want %s", req, fmtResponse(got), fmtResponse(want))
		}
	}
	if got := RunCPU(Request{Route: RouteCPU, Iters: 1}); !strings.HasPrefix(string(got.Body), Hash(1)) {
		t.Errorf("RunCPU(iters=1) body = %q; want Hash(1) = %q", got.Body, Hash(1))
	}
}
