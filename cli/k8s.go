package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/concbench/concbench/k8s"
	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/shard"
	"github.com/concbench/concbench/units"
)

const k8sArgs = "--target http://HOST:PORT --shards N --image IMAGE [--plan P] [--scenario S] [--rate R] [--namespace NS] [--name NAME] [--start-in 2m]  |  k8s collect --out DIR [LOGS...]"

// cmdK8s prints the manifests of a sharded cell on Kubernetes, or, as
// `k8s collect`, gathers the shards' results from their logs and merges them.
func cmdK8s(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && args[0] == "collect" {
		return cmdK8sCollect(ctx, env, args[1:])
	}
	fs := newFlags(env, "k8s", k8sArgs+"\n\n"+
		"Prints an Indexed Job (and the plan's ConfigMap when --plan is a file) whose N pods\n"+
		"each run one shard of the cell, one per node, from one start time; apply it with\n"+
		"kubectl, then pipe the pods' logs into concbench k8s collect.")
	planRef := fs.String("plan", "", "plan `file` (shipped in a ConfigMap) or built-in plan name (default "+plan.DefaultBuiltin+")")
	scName := fs.String("scenario", "", "the plan's `scenario` (default: its only one)")
	rate := fs.Float64("rate", 0, "the whole cell's offered rate in `req/s` (default: the scenario's only rate)")
	target := fs.String("target", "", "the server as the pods reach it, `http://HOST:PORT`")
	shards := fs.Int("shards", 1, "number of generator pods `N`")
	image := fs.String("image", "", "container `image` holding /concbench (see the Dockerfile)")
	namespace := fs.String("namespace", "", "`namespace` of the Job (default: kubectl's)")
	name := fs.String("name", "concbench", "the Job's `name`")
	startIn := fs.Duration("start-in", 2*time.Minute, "start the shards this long after now: time to apply, schedule and pull the image")
	startAt := fs.String("start-at", "", "start the shards at this RFC 3339 `time` instead")
	cpu := fs.Int("cpu", 1, "whole `CPUs` per shard (requests = limits)")
	memory := fs.String("memory", "512Mi", "memory per shard (requests = limits)")
	soft := fs.Bool("soft-spread", false, "prefer, not require, one shard per node (allows more shards than nodes)")
	allowRemote := fs.Bool("allow-remote", false, "let the shards load a non-loopback target (a cluster's target always is)")
	duration := fs.Duration("duration", 0, "measured window (default: the plan's)")
	warmup := fs.Duration("warmup", -1, "warmup, not counted (default: the plan's)")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	a, err := newAttack(*planRef, *scName, *rate, fmt.Sprintf("0/%d", max(*shards, 1)), plan.DefaultTargetName, 1, *duration, *warmup)
	if err != nil {
		return usageError("k8s: %v", err)
	}
	if *target == "" {
		return usageError("k8s: --target is required")
	}
	if !*allowRemote {
		host := strings.TrimPrefix(strings.TrimPrefix(*target, "http://"), "https://")
		if err := launch.CheckLoopback(strings.TrimSuffix(host, "/")); err != nil {
			return usageError("k8s: --target %s: %v (pass --allow-remote: the pods load another machine)", *target, err)
		}
	}
	start := time.Now().Add(*startIn).Truncate(time.Second)
	if *startAt != "" {
		if start, err = time.Parse(time.RFC3339Nano, *startAt); err != nil {
			return usageError("k8s: --start-at: %v", err)
		}
	}
	o := k8s.Options{
		Name: *name, Namespace: *namespace, Image: *image,
		Plan: *planRef, Scenario: a.sc.Name, Rate: a.rate, Target: *target, AllowRemote: *allowRemote,
		Shards: *shards, StartAt: start, CPU: *cpu, Memory: *memory, SoftSpread: *soft,
		Deadline: max(time.Until(start), 0) + a.sc.Warmup.D() + a.sc.Duration.D() + a.p.Timeout.D() + 2*time.Minute,
	}
	if o.Plan == "" {
		o.Plan = plan.DefaultBuiltin
	}
	if st, err := os.Stat(o.Plan); err == nil && !st.IsDir() {
		if o.PlanData, err = os.ReadFile(o.Plan); err != nil {
			return usageError("k8s: %v", err)
		}
	}
	if *duration > 0 {
		o.Extra = append(o.Extra, "--duration", duration.String())
	}
	if *warmup >= 0 {
		o.Extra = append(o.Extra, "--warmup", warmup.String())
	}
	out, err := k8s.Write(o)
	if err != nil {
		return usageError("k8s: %v", err)
	}
	_, err = env.Stdout.Write(out)
	fmt.Fprintf(env.Stderr, "concbench k8s: %d shards of %s at %s req/s each, starting %s (in %s)\n",
		o.Shards, a.id, units.Plain(a.rate/float64(o.Shards)), start.UTC().Format(time.RFC3339), time.Until(start).Round(time.Second))
	return err
}

// cmdK8sCollect reads the shards' frames from logs (files, or stdin) and
// merges them.
func cmdK8sCollect(_ context.Context, env *Env, args []string) error {
	fs := newFlags(env, "k8s collect", "--out DIR [LOGS...]\n\n"+
		"Reads the shards' results from their logs (kubectl logs ... --tail=-1; files, or\n"+
		"stdin when none is named), unpacks each into DIR/shards/ and merges them into DIR.")
	out := fs.String("out", "", "merged results `directory` to write")
	quiet := fs.Bool("quiet", false, "do not print the verdict table")
	pos, err := parseFlagsAnywhere(fs, args)
	if err != nil {
		return err
	}
	if *out == "" {
		return usageError("k8s collect: --out is required")
	}
	var readers []io.Reader
	for _, p := range pos {
		f, err := os.Open(p)
		if err != nil {
			return usageError("k8s collect: %v", err)
		}
		defer f.Close()
		readers = append(readers, f)
	}
	if len(readers) == 0 {
		readers = append(readers, os.Stdin)
	}
	dirs, err := shard.Collect(io.MultiReader(readers...), filepath.Join(*out, "shards"))
	if err != nil {
		return usageError("k8s collect: %v", err)
	}
	if len(dirs) == 0 {
		return usageError("k8s collect: no %q line in the logs (were they read with --tail=-1?)", strings.TrimSpace(shard.FramePrefix))
	}
	return mergeDirs(env, dirs, *out, *quiet)
}
