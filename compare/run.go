package compare

import (
	"fmt"
	"io"
)

// Config is one `concbench compare` invocation.
type Config struct {
	// Old and New each list one or more results directories or results.json
	// files; the repetitions of several runs of a side pool together.
	Old, New []string
	// FailOn is the --fail-on value (see ParseThresholds); empty means no
	// thresholds. The command's default is DefaultFailOn.
	FailOn string
	// Alpha is the significance level; 0 means DefaultAlpha.
	Alpha float64
	// Format is "text" (the default when empty) or "markdown".
	Format string
}

// Run compares cfg.Old with cfg.New and writes the report to w. It returns
// an *InputError (exit 2) on unusable input, before writing anything; a
// *RegressionError (exit 1) after writing the report when it found a
// significant regression beyond a threshold; nil otherwise. See ExitCode.
func Run(w io.Writer, cfg Config) error {
	thresholds, err := ParseThresholds(cfg.FailOn)
	if err != nil {
		return inputErrorf("--fail-on: %w", err)
	}
	if !(cfg.Alpha >= 0 && cfg.Alpha < 1) {
		return inputErrorf("--alpha %v out of range (0, 1)", cfg.Alpha)
	}
	write := (*Report).WriteText
	switch cfg.Format {
	case "", "text":
	case "markdown", "md":
		write = (*Report).WriteMarkdown
	default:
		return inputErrorf("--format %q: want text or markdown", cfg.Format)
	}
	old, err := Load(cfg.Old)
	if err != nil {
		return &InputError{fmt.Errorf("old: %w", err)}
	}
	nu, err := Load(cfg.New)
	if err != nil {
		return &InputError{fmt.Errorf("new: %w", err)}
	}
	rep, err := Compare(old, nu, Options{Alpha: cfg.Alpha, Thresholds: thresholds})
	if err != nil {
		return err
	}
	if err := write(rep, w); err != nil {
		return err
	}
	return rep.Err()
}
