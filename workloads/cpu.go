package workloads

import (
	"crypto/sha256"
	"encoding/hex"
)

// seed starts every hash chain, so every model's /cpu answer can be checked
// against Hash.
var seed = sha256.Sum256([]byte("concbench"))

// Hasher computes N rounds of SHA-256 chained over a fixed seed, optionally in
// chunks. Each round hashes the previous digest, so the work cannot be skipped
// or optimised away, and the final digest proves it was done. A Hasher is not
// safe for concurrent use; it may move between goroutines between calls.
type Hasher struct {
	sum  [32]byte
	left int
}

// NewHasher returns a Hasher for iters rounds.
func NewHasher(iters int) Hasher {
	return Hasher{sum: seed, left: iters}
}

// Step runs up to n more rounds and reports whether the chain is complete. A
// non-positive n runs none.
func (h *Hasher) Step(n int) (done bool) {
	n = max(0, min(n, h.left))
	sum := h.sum
	for i := 0; i < n; i++ {
		sum = sha256.Sum256(sum[:])
	}
	h.sum = sum
	h.left -= n
	return h.left == 0
}

// AppendHex appends the hex digest and a newline: the body of a /cpu answer.
func (h *Hasher) AppendHex(dst []byte) []byte {
	dst = hex.AppendEncode(dst, h.sum[:])
	return append(dst, '\n')
}

// Hash runs all iters rounds at once and returns the hex digest.
func Hash(iters int) string {
	h := NewHasher(iters)
	h.Step(iters)
	return hex.EncodeToString(h.sum[:])
}
