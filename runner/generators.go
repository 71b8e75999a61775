package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/concbench/concbench/cpuset"
	"github.com/concbench/concbench/loadgen"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/shard"
	"github.com/concbench/concbench/units"
)

// ShardsDir holds, inside a run's results directory, the results of each
// generator shard of each cell when a run uses several generators.
const ShardsDir = "shards"

// startLead is how far ahead of now the shards' start barrier is set: time
// for N processes to start and read the plan, with room on a busy machine.
const startLead = time.Second

// attackShards runs cfg as Options.Generators shard processes — `concbench
// attack --shard i/N`, the same command a shard runs on another machine —
// each pinned to its own CPU of the generator's set (round robin when there
// are fewer CPUs than shards), and merges their results into the cell's
// (shard.Merge). The merged histogram files land in the run's directory
// beside the other cells'; each shard's own results stay in
// ShardsDir/CELL.shardIofN.
func (r *cellRunner) attackShards(ctx context.Context, cfg loadgen.Config, spec cellSpec) (*loadgen.Result, []result.Shard, error) {
	n := r.opts.Generators
	planFile, err := r.planFile()
	if err != nil {
		return nil, nil, err
	}
	start := time.Now().Add(startLead).UTC()
	dirs := make([]string, n)
	cmds := make([]*exec.Cmd, n)
	logs := make([]*bytes.Buffer, n)
	for i := range n {
		dirs[i] = filepath.Join(r.dir, ShardsDir, fmt.Sprintf("%s.shard%dof%d", cfg.CellID, i, n))
		args := []string{"attack",
			"--plan", planFile, "--scenario", spec.sc.Name, "--rate", units.Plain(cfg.Rate),
			"--duration", cfg.Duration.String(), "--warmup", cfg.Warmup.String(),
			"--target", cfg.BaseURL, "--name", spec.model, "--rep", strconv.Itoa(spec.rep),
			"--shard", fmt.Sprintf("%d/%d", i, n), "--start-at", start.Format(time.RFC3339Nano),
			"--seed", strconv.FormatInt(cfg.Seed, 10), "--out", dirs[i],
		}
		if cfg.MaxConnections > 0 {
			args = append(args, "--max-connections", strconv.Itoa((cfg.MaxConnections+n-1)/n))
		}
		if cfg.CeilingRPS > 0 {
			args = append(args, "--ceiling", units.Plain(cfg.CeilingRPS))
		}
		if cfg.AllowRemote {
			args = append(args, "--allow-remote")
		}
		cmd := exec.CommandContext(ctx, r.self, args...)
		// Interrupted, a shard stops sending and saves what it measured.
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = 5 * time.Second
		logs[i] = new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = logs[i], logs[i]
		var cpus cpuset.Set
		if len(r.genCPUs) > 0 {
			cpus = cpuset.Set{r.genCPUs[i%len(r.genCPUs)]}
		}
		if err := cpuset.StartOn(cmd, cpus); err != nil {
			for _, c := range cmds[:i] {
				_ = c.Process.Kill()
				_ = c.Wait()
			}
			return nil, nil, fmt.Errorf("start generator shard %d/%d: %w", i, n, err)
		}
		cmds[i] = cmd
	}
	var errs []error
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("generator shard %d/%d: %v: %s", i, n, err, lastLine(logs[i].String())))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	in, err := shard.Load(dirs)
	if err != nil {
		return nil, nil, err
	}
	run, err := shard.Merge(in, r.dir)
	if run == nil {
		return nil, nil, err
	}
	c := run.Cells[0]
	for i := range c.Shards { // relative to the run's directory, as its files are
		c.Shards[i].Dir = relTo(r.dir, c.Shards[i].Dir)
	}
	return shard.Result(c), c.Shards, err
}

// planFile writes the run's plan, with its overrides, where the shards read
// it, once per run.
func (r *cellRunner) planFile() (string, error) {
	path := filepath.Join(r.dir, ShardsDir, "plan.yaml")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	b, err := yaml.Marshal(r.opts.Plan)
	if err != nil {
		return "", err
	}
	return path, result.WriteFileAtomic(path, b)
}

func lastLine(s string) string {
	s = string(bytes.TrimSpace([]byte(s)))
	if i := bytes.LastIndexByte([]byte(s), '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
