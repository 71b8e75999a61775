#!/usr/bin/env bash
# ci-bench: the A/B performance regression check of HEAD against a base commit,
# on this machine, in this job (README, "CI regression runs").
#
# It builds the base commit and HEAD into two binaries from temporary git
# worktrees, runs the short plan with both, interleaved over the repetitions
# (base, head, base, head, ...: one `concbench run --reps 1` each), then lets
# HEAD's binary compare the pooled repetitions (`concbench compare`, default
# thresholds) and prints the Markdown summary (also appended to
# $GITHUB_STEP_SUMMARY when set).
#
# Environment (the Makefile passes its variables of the same names):
#   BASE=REV          the base commit (default: HEAD~1, the parent of HEAD)
#   CI_BENCH_REPS=N   repetitions per side (default 7; compare needs ≥ 4 to ever
#                     call a change significant, ≥ 6 for confidence intervals)
#   CI_BENCH_MAX_EXTRA=N  extra rounds (default 3) run when invalid cells left
#                     a comparison too few valid repetitions to detect anything
#   CI_BENCH_OUT=DIR  where the runs and the comparison go (default
#                     results/ci-bench/<UTC timestamp>)
#   CONCBENCH_ACCEPT_REGRESSION=REASON   accept a regression on purpose: the
#                     comparison runs and is printed, but the exit status is 0
#                     and the reason is shown ("1" works; a reason is better).
#                     A line "Accept-Regression: REASON" in the message of a
#                     commit in BASE..HEAD does the same.
#   GO                the go command (default: go)
#
# Exit status: 0 no significant regression beyond the thresholds (or one that
# was accepted, or nothing to compare: no base commit, a base without concbench
# or its short plan, a base that does not build — HEAD may be its fix); 1 a
# significant regression; or HEAD's servers broke the plan's SLO (errors) or
# failed (did not start, died) in 2 or more runs and more often than the
# base's; or any other failure (HEAD does not build, a run failed); 2 bad
# arguments, or runs compare cannot use; 130 interrupted. Invalid cells (run's
# exit 3) are not failures by themselves: compare leaves them out and says so,
# and ci-bench runs up to CI_BENCH_MAX_EXTRA more rounds when they leave a
# comparison blind (still blind: INCONCLUSIVE, exit 0).
set -euo pipefail

GO=${GO:-go}
REPS=${CI_BENCH_REPS:-7}
MAX_EXTRA=${CI_BENCH_MAX_EXTRA:-3}
MODULE=github.com/concbench/concbench

say() { printf 'ci-bench: %s\n' "$*"; }
die() { # die CODE MESSAGE
	local code=$1
	shift
	printf 'ci-bench: %s\n' "$*" >&2
	exit "$code"
}
skip() { # nothing to compare against: not a failure
	say "SKIPPED: $*"
	summary "### concbench ci-bench: skipped" "" "$*"
	exit 0
}
summary() { # append lines to the CI job summary, when there is one
	if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
		printf '%s\n' "$@" >>"$GITHUB_STEP_SUMMARY" || say "warning: could not write \$GITHUB_STEP_SUMMARY"
	fi
}
describe() { git log -1 --format='%h (%s)' "$1"; }

case $REPS$MAX_EXTRA in
'' | *[!0-9]*) die 2 "CI_BENCH_REPS=$REPS, CI_BENCH_MAX_EXTRA=$MAX_EXTRA: want numbers of repetitions" ;;
esac
if [ "$REPS" -lt 4 ]; then
	die 2 "CI_BENCH_REPS=$REPS: compare needs at least 4 repetitions per side to call any change significant"
fi

cd "$(dirname "$0")/.."
if ! top=$(git rev-parse --show-toplevel 2>&1); then
	[ -e .git ] || skip "$(pwd) is not a git checkout: there are no commits to compare."
	die 1 "git cannot read this checkout: $top"
fi
cd "$top"

# The two commits.
head_rev=$(git rev-parse --verify -q 'HEAD^{commit}') || die 1 "HEAD is not a commit"
if [ -n "${BASE:-}" ]; then
	base_rev=$(git rev-parse --verify -q "$BASE^{commit}") || die 2 "BASE=$BASE is not a commit here"
	base_name=$BASE
else
	base_name='HEAD~1'
	if ! base_rev=$(git rev-parse --verify -q 'HEAD~1^{commit}'); then
		if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
			skip "HEAD's parent is not in this shallow clone (fetch at least 2 commits, e.g. fetch-depth: 2), so there is no base to compare with."
		fi
		skip "HEAD $(describe HEAD) has no parent: there is no base to compare with."
	fi
fi
has_concbench() { # the commit holds this module's concbench command
	git cat-file -e "$1:main.go" 2>/dev/null &&
		git cat-file -p "$1:go.mod" 2>/dev/null | grep -qx "module $MODULE"
}
has_concbench "$head_rev" || die 1 "HEAD $(describe "$head_rev") has no concbench command (main.go, go.mod of $MODULE)"
has_concbench "$base_rev" || skip "the base $base_name = $(describe "$base_rev") has no concbench command to compare with."

if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	say "note: the working tree has uncommitted changes; they are not measured (both sides are built from commits)"
fi

# Accepting an intended regression: the environment, or a trailer in a commit
# message between the base and HEAD.
accept=
if [ -n "${CONCBENCH_ACCEPT_REGRESSION:-}" ]; then
	case $CONCBENCH_ACCEPT_REGRESSION in
	1 | true | yes) accept="CONCBENCH_ACCEPT_REGRESSION is set (no reason given)" ;;
	*) accept="CONCBENCH_ACCEPT_REGRESSION: $CONCBENCH_ACCEPT_REGRESSION" ;;
	esac
elif [ "$base_rev" != "$head_rev" ]; then
	line=$(git log --format=%B "$base_rev..$head_rev" | grep -im1 '^Accept-Regression:[[:space:]]*[^[:space:]]' || true)
	if [ -n "$line" ]; then
		accept="commit message: $line"
	fi
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=${CI_BENCH_OUT:-results/ci-bench/$stamp}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Temporary worktrees and binaries, removed on any exit.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ci-bench.XXXXXX")
worktrees=()
cleanup() {
	local wt
	for wt in "${worktrees[@]}"; do
		git worktree remove --force "$wt" >/dev/null 2>&1 || true
	done
	rm -rf "$tmp"
	git worktree prune >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$SECONDS
say "base $base_name = $(describe "$base_rev")"
say "head HEAD = $(describe "$head_rev")"
if [ "$base_rev" = "$head_rev" ]; then
	say "note: both sides are the same commit (an A/A run: it measures the noise)"
fi

# build SIDE COMMIT: worktree $tmp/SIDE, binaries in $tmp/bin-SIDE: concbench
# and, when the commit has it, concbench-serve (the servers alone, which
# concbench runs the models with when it is beside it: one directory per
# side, so that each side's runs use its own).
build() {
	local side=$1 commit=$2 version
	git worktree add --detach -q "$tmp/$side" "$commit" || return
	worktrees+=("$tmp/$side")
	version=$(git describe --always "$commit") || return
	mkdir -p "$tmp/bin-$side"
	(cd "$tmp/$side" && "$GO" build -ldflags "-X $MODULE/cli.Version=$version" -o "$tmp/bin-$side/concbench" . &&
		if [ -d cmd/concbench-serve ]; then "$GO" build -o "$tmp/bin-$side/concbench-serve" ./cmd/concbench-serve; fi)
}
say "building head and base ..."
build head "$head_rev" || die 1 "HEAD $(describe "$head_rev") does not build"
if ! build base "$base_rev" 2>"$tmp/base-build.log"; then
	cat "$tmp/base-build.log" >&2
	skip "the base $base_name = $(describe "$base_rev") does not build (output above), so there is nothing to compare with; HEAD builds."
fi

# Both sides run HEAD's short plan, so that a change to the plan itself cannot
# read as a change of the servers. A base too old to read it runs its own.
"$tmp/bin-head/concbench" run --plan short --print-plan >"$tmp/plan.yaml" ||
	die 1 "HEAD's concbench has no short plan (concbench run --plan short --print-plan failed)"
"$tmp/bin-base/concbench" run --plan short --print-plan >/dev/null 2>&1 ||
	skip "the base $base_name = $(describe "$base_rev") has no 'concbench run --plan short' to compare with."
base_plan=$tmp/plan.yaml
if ! "$tmp/bin-base/concbench" run --plan "$tmp/plan.yaml" --print-plan >/dev/null 2>"$tmp/plan-check.log"; then
	say "warning: the base cannot read HEAD's short plan ($(head -1 "$tmp/plan-check.log")); it runs its own built-in short plan, so a difference may be the plan's"
	base_plan=short
fi
cp "$tmp/plan.yaml" "$out/plan.yaml"
say "built in $((SECONDS - start))s; $REPS repetitions per side, interleaved base, head, base, head, ...; results in $out"
runs_start=$SECONDS

# The interleaved runs: in every round, model by model, the base's run of the
# model's cell and then HEAD's, each a `concbench run --models M --reps 1`, so
# that the two measurements of a cell are seconds apart and a burst of noise
# on a shared machine lands on both sides rather than on one. Each runs in its
# side's worktree, so that the commit recorded in results.json is that side's.
models=$(awk '/^models:/ { on = 1; next } on && /^ *- / { print $2; next } on { exit }' "$tmp/plan.yaml")
[ -n "$models" ] || die 1 "no models in HEAD's short plan ($out/plan.yaml)"
dirs_base=() dirs_head=()
slo_base=0 slo_head=0 invalid_base=0 invalid_head=0 crash_base=0 crash_head=0
run_cell() { # run_cell SIDE ROUND MODEL
	local side=$1 round=$2 model=$3 plan=$tmp/plan.yaml dir rc=0 res
	[ "$side" = base ] && plan=$base_plan
	dir=$out/r$round/$side-$model
	mkdir -p "$out/r$round"
	(cd "$tmp/$side" && "$tmp/bin-$side/concbench" run --plan "$plan" --models "$model" --reps 1 --out "$dir") >"$dir.log" 2>&1 </dev/null || rc=$?
	case $rc in
	0) ;;
	3) eval "invalid_$side=\$((invalid_$side + 1))" ;;
	4) eval "slo_$side=\$((slo_$side + 1))" ;;
	130 | 143) exit 130 ;;
	*)
		tail -n 20 "$dir.log" >&2
		die 1 "the $side run of $model in round $round failed (exit $rc; log: $dir.log)"
		;;
	esac
	res=$(find "$dir" -mindepth 2 -maxdepth 2 -name results.json -print -quit)
	[ -n "$res" ] || die 1 "the $side run of $model in round $round wrote no results.json (log: $dir.log)"
	if grep -q '"cause": *"server"' "$res"; then # the server did not start, or died
		eval "crash_$side=\$((crash_$side + 1))"
	fi
	res=${res%/results.json}
	eval "dirs_$side+=(\"\${res#\$out/}\")" # relative to $out: compare lists them all
}
run_round() { # run_round ROUND LABEL
	local round=$1 label=$2 t0=$SECONDS model ib=$invalid_base ih=$invalid_head note=
	for model in $models; do
		run_cell base "$round" "$model"
		run_cell head "$round" "$model"
	done
	if [ $((invalid_base + invalid_head)) -ne $((ib + ih)) ]; then
		note=" — invalid cells (left out): base $((invalid_base - ib)), head $((invalid_head - ih)); reasons in $out/r$round/*.log"
	fi
	say "[$label] base and head, $(echo $models | wc -w) models: $((SECONDS - t0))s$note"
}
for ((i = 1; i <= REPS; i++)); do
	run_round "$i" "$i/$REPS"
done

# HEAD's binary compares the pooled sides with compare's default thresholds.
join() {
	local IFS=,
	printf '%s' "$*"
}
compare_runs() { # sets rc; the report goes to $out/compare.md, errors to $out/compare.err
	rc=0
	(cd "$out" && "$tmp/bin-head/concbench" compare --format markdown "$(join "${dirs_base[@]}")" "$(join "${dirs_head[@]}")") \
		>"$out/compare.md" 2>"$out/compare.err" || rc=$?
}
blind() { # some comparisons cannot detect anything: too many invalid cells
	grep -qE 'too few repetitions|no cell was measured validly' "$out/compare.md" "$out/compare.err"
}
crashed() { # HEAD's servers failed (did not start, died) in 2 or more cells, more often than the base's
	[ "$crash_head" -ge 2 ] && [ "$crash_head" -gt "$crash_base" ]
}
compare_runs
# Invalid cells (a busy machine starving the load generator) can leave a cell
# with too few valid repetitions on a side for the test to ever flag it. Then
# run more rounds, a bounded number, rather than pass blind or fail on noise.
extra=0
while [ "$rc" -ne 1 ] && ! crashed && blind && [ "$extra" -lt "$MAX_EXTRA" ]; do
	extra=$((extra + 1))
	say "too many invalid cells for every comparison to detect a change: extra round $extra of at most $MAX_EXTRA"
	run_round "$((REPS + extra))" "extra $extra"
	compare_runs
done
runs_took=$((SECONDS - runs_start))
rounds=$((REPS + extra))
ncells=$((rounds * $(echo $models | wc -w)))
head_line="Compared base $base_name = $(describe "$base_rev") with HEAD = $(describe "$head_rev"): $rounds repetitions each of the short plan ($ncells cells a side; valid repetitions per cell in the table), interleaved, on ${HOSTNAME:-$(uname -n)}; the runs took ${runs_took}s (results: $out)."
comparable=1
if [ "$rc" -eq 2 ] && blind; then
	comparable=0 # too many invalid cells; see the verdict below
	cat "$out/compare.err" >&2
	say "$head_line"
elif [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ] || { [ "$rc" -eq 1 ] && ! grep -q '^\*\*FAIL\*\*' "$out/compare.md"; }; then
	cat "$out/compare.md" "$out/compare.err" >&2
	die "$rc" "concbench compare could not compare the runs (exit $rc): $(head -1 "$out/compare.err")"
else
	echo
	cat "$out/compare.md"
	echo
	say "$head_line"
	summary "$head_line" "" "$(cat "$out/compare.md")" ""
fi
[ $((invalid_base + invalid_head)) -eq 0 ] ||
	say "invalid cells (left out of the comparison): base $invalid_base, head $invalid_head of $ncells each"
if nblind=$(grep -o '[0-9]* of [0-9]* comparisons had too few repetitions' "$out/compare.md"); then
	say "warning: $nblind to detect any difference (too many invalid cells: the machine was busy); a regression there would go unseen — rerun to check"
fi
[ $((slo_base + slo_head)) -eq 0 ] ||
	say "cells that broke the plan's SLO (errors): base $slo_base, head $slo_head of $ncells each (see $out/r*/*.log)"
[ $((crash_base + crash_head)) -eq 0 ] ||
	say "cells whose server failed (did not start, died): base $crash_base, head $crash_head of $ncells each (see $out/r*/*.log)"

verdict=0 why=
if [ "$rc" -eq 1 ]; then
	verdict=1 why="a significant regression beyond the thresholds (the rows marked regression above)"
fi
# compare neither gates on errors nor sees a cell whose server failed (it is
# invalid, left out): a HEAD doing either in 2 or more cells, and more often
# than the base, fails here; a one-off glitch does not.
if [ "$slo_head" -ge 2 ] && [ "$slo_head" -gt "$slo_base" ]; then
	verdict=1 why="${why:+$why; }HEAD broke the plan's SLO (errors) in $slo_head of $ncells cells, the base in $slo_base"
fi
if crashed; then
	verdict=1 why="${why:+$why; }HEAD's server failed in $crash_head of $ncells cells, the base's in $crash_base"
fi
if [ "$verdict" -eq 0 ] && [ "$comparable" -eq 0 ]; then
	# Not a failure of the code: this machine could not measure it.
	msg="INCONCLUSIVE: after $rounds rounds too many cells were invalid (most often the load generator starved of CPU: see the INVALID lines in $out/r*/*.log) for any comparison to be significant; nothing was checked. Rerun on a quieter machine."
	say "$msg"
	summary "$head_line" "" "**ci-bench: inconclusive** — $msg"
	exit 0
fi
if [ "$verdict" -ne 0 ] && [ -n "$accept" ]; then
	say "ACCEPTED in $((SECONDS - start))s: $why — accepted on purpose, $accept"
	summary "**ci-bench: regression accepted** — $why; $accept"
	exit 0
fi
if [ "$verdict" -ne 0 ]; then
	say "FAILED in $((SECONDS - start))s: $why. If it is intended, accept it (README, \"CI regression runs\")."
	summary "**ci-bench: failed** — $why"
	exit 1
fi
say "PASSED in $((SECONDS - start))s"
summary "**ci-bench: passed**"
