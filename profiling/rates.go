package profiling

import (
	"os"
	"runtime"
)

// Sampling of the mutex and block profiles under `serve --profile-rates`.
const (
	// MutexProfileFraction: one contention event in this many is recorded.
	MutexProfileFraction = 10
	// BlockProfileRate: about one blocking event is recorded per this many
	// nanoseconds spent blocked.
	BlockProfileRate = 10_000
)

// RatesEnv carries `serve --profile-rates` to the cluster's children, which
// inherit the supervisor's environment: a process that finds it set calls
// EnableRates before serving.
const RatesEnv = "CONCBENCH_PROFILE_RATES"

// EnableRates turns the mutex and block profiles on in this process and, by
// setting RatesEnv, in the processes it starts.
func EnableRates() {
	runtime.SetMutexProfileFraction(MutexProfileFraction)
	runtime.SetBlockProfileRate(BlockProfileRate)
	_ = os.Setenv(RatesEnv, "1")
}
