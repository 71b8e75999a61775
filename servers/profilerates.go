package servers

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

// ProfileRatesEnv carries `serve --profile-rates` to the cluster's children, which
// inherit the supervisor's environment: a process that finds it set calls
// EnableProfileRates before serving.
const ProfileRatesEnv = "CONCBENCH_PROFILE_RATES"

// EnableProfileRates turns the mutex and block profiles on in this process and, by
// setting ProfileRatesEnv, in the processes it starts.
func EnableProfileRates() {
	runtime.SetMutexProfileFraction(MutexProfileFraction)
	runtime.SetBlockProfileRate(BlockProfileRate)
	_ = os.Setenv(ProfileRatesEnv, "1")
}
