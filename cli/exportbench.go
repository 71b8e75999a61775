package cli

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/concbench/concbench/compare"
	"github.com/concbench/concbench/result"
)

// cmdExportBench writes results in the Go benchmark format for benchstat and
// benchmark dashboards.
func cmdExportBench(_ context.Context, env *Env, args []string) error {
	fs := newFlags(env, "export-bench", "[-o FILE] RESULTS...\n\n"+
		"RESULTS are results directories or results.json files. Invalid cells are left out.\n"+
		"Compare two exports with: benchstat -ignore commit old.txt new.txt")
	out := fs.String("o", "", "write to `FILE` (replaced atomically) instead of stdout")
	paths, err := parseFlagsAnywhere(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return usageError("export-bench: want one or more results directories or results.json files")
	}
	rs := make([]*result.Run, 0, len(paths))
	for _, p := range paths {
		r, err := result.Load(p)
		if err != nil {
			return usageError("export-bench: %v", err)
		}
		rs = append(rs, r)
	}
	var b bytes.Buffer
	st, err := compare.WriteBench(&b, rs)
	if err == nil {
		if *out == "" {
			_, err = env.Stdout.Write(b.Bytes())
		} else {
			err = result.WriteFileAtomic(*out, b.Bytes())
		}
	}
	if err != nil {
		return fmt.Errorf("export-bench: %w", err)
	}
	if n := len(st.Dropped); n > 0 {
		fmt.Fprintf(env.Stderr, "export-bench: left out %d invalid cells (the generator, not the server, limited them): %s\n", n, strings.Join(st.Dropped, ", "))
	}
	if *out != "" {
		fmt.Fprintf(env.Stderr, "export-bench: wrote %d results from %d run(s) to %s\n", st.Results, len(rs), *out)
	}
	return nil
}
