// Package profiling captures and reads the profiles of a server under test.
//
// Profiling a cell: with runner.Options.Profiles set, every server is started with
// `--pprof-addr 127.0.0.1:0` (it prints the bound address before its listening
// line) and, during the cell's measured window, the orchestrator downloads
// from that port:
//
//   - cpu and trace: /debug/pprof/profile and /debug/pprof/trace for the
//     window (the CPU profile in whole seconds, at least one, not past the
//     window when it is longer than a second);
//   - mutex and block: their delta profiles over the same seconds (contention
//     during the window, not since the server started); the server enables
//     them with `serve --profile-rates` only when asked, since they cost;
//   - heap and goroutine: snapshots at the window's end.
//
// A cluster server is profiled child by child through its supervisor's
// /child/I/debug/pprof/ proxy. Files go beside the results as
// CELL.KIND.pprof (CELL.trace), CELL.childI.KIND.pprof for cluster children,
// listed in Cell.Files as "profile:KIND" ("profile:childI:KIND"). A capture
// that fails is a note in the cell's reasons, never a failed cell or run.
//
// Mutex and block profiles cost, so a server records them only when asked:
// NeedsRates tells the orchestrator to ask (`serve --profile-rates`), and
// servers.EnableProfileRates is what the server then does.
package profiling
