package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/concbench/concbench/catalog"
	"github.com/concbench/concbench/servecmd"
	"github.com/concbench/concbench/servers/reference"
)

// cmdServe is servecmd's, its usage errors exit 2 like every command's.
func cmdServe(ctx context.Context, env *Env, args []string) error {
	err := servecmd.Run(ctx, env.Stdout, env.Stderr, args)
	var ue *servecmd.UsageError
	if errors.As(err, &ue) {
		return withCode(ExitUsage, ue.Err)
	}
	return err
}

func cmdModels(_ context.Context, env *Env, args []string) error {
	fs := newFlags(env, "models", "")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	for _, m := range catalog.All() {
		kind := m.Kind.String()
		if m.Kind == catalog.Reference {
			if err := reference.Check(m.Name); err != nil {
				kind = "reference, not available: " + err.Error()
			} else {
				kind = "reference beside " + m.Beside + ", available (" + reference.Version(m.Name) + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Name, m.Summary, kind)
	}
	return tw.Flush()
}
