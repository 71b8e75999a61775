#!/usr/bin/env bash
# bench-overhead: each model's /plain throughput beside the bare library it is
# built on (issue 15), measured with wrk: what the harness's own bookkeeping
# (routing, counters, thread watching, strict framing, response writing) costs
# a model at its peak.
#
# Every server runs alone on SERVER_CPU (taskset), wrk on CLIENT_CPU, one
# `wrk -t1 -c64 -dDURATION` per server. The bare servers (internal/bare, built
# as bin/barehello) answer every request with the bytes the models send for
# /plain, keep-alive, no pipelining. Runs are interleaved in pairs — bare then
# model in odd rounds, model then bare in even ones (ABBA) — for ROUNDS
# rounds, so that load from elsewhere on the machine falls on both sides
# alike; the table gives the median req/s of each side, the median of the
# per-round ratios (model ÷ bare, the two runs of a pair back to back) and
# their range, and the same for requests per CPU-second the server used,
# which a busy machine (other processes on the server CPU) disturbs far less
# than req/s. On this project's VM the host stole 10–30 % of a CPU at times
# (the steal column of /proc/stat), and a server's req/s moved ×2 between
# rounds: pairing is what makes a 10 % question answerable.
#
# Why a script and not a concbench mode: wrk is an outside program, the bare
# servers must not be models the catalog (and so `concbench serve`, plans and
# reports) knows, and the job is only starting processes pinned to CPUs and
# reading wrk's summary line.
#
# Environment (the Makefile passes its variables of the same names):
#   ROUNDS=N          interleaved rounds (default 6, at least 2; even, so
#                     that ABBA puts each side first equally often)
#   DURATION=5s       wrk's duration per run
#   MODELS="..."      model:library pairs (default: every Go model, cluster
#                     with --procs 1 since it has one CPU)
#   SERVER_CPU=1 CLIENT_CPU=0
#   GO                the go command (default: go)
#
# Exit status: 0 (also when wrk or taskset is missing: skipped, with the
# reason); 1 when a server fails to start or wrk fails.
set -euo pipefail

GO=${GO:-go}
ROUNDS=${ROUNDS:-6}
DURATION=${DURATION:-5s}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
MODELS=${MODELS:-"eventloop:gnet offload:gnet cluster:gnet thread:fasthttp goroutine:nethttp"}

for tool in wrk taskset; do
	if ! command -v "$tool" >/dev/null; then
		echo "bench-overhead: skipped: $tool is not installed (apt-get install $( [ "$tool" = wrk ] && echo wrk || echo util-linux ))"
		exit 0
	fi
done
if [ "$ROUNDS" -lt 2 ]; then
	echo "bench-overhead: ROUNDS must be at least 2 (interleaving needs two)" >&2
	exit 2
fi

cd "$(dirname "$0")/.."
mkdir -p bin
"$GO" build -o bin/concbench . 
"$GO" build -o bin/barehello ./internal/cmd/barehello

work=$(mktemp -d)
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# start CMD...: starts a server pinned to SERVER_CPU, waits for its
# "listening on ADDR" line, sets server_pid and addr.
start() {
	: >"$work/out"
	taskset -c "$SERVER_CPU" "$@" >"$work/out" 2>"$work/err" &
	server_pid=$!
	addr=
	for _ in $(seq 100); do
		addr=$(sed -n 's/^listening on //p' "$work/out")
		[ -n "$addr" ] && return 0
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench-overhead: $* did not start:" >&2
	cat "$work/err" >&2
	exit 1
}

stop() {
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

# cpu_ticks: CPU time (user + system, in clock ticks) used so far by the
# server and its children (the cluster's child processes).
cpu_ticks() {
	local pids=$server_pid
	pids="$pids $(cat /proc/"$server_pid"/task/*/children 2>/dev/null || true)"
	local total=0 p t
	for p in $pids; do
		t=$(sed 's/^.*) //' /proc/"$p"/stat 2>/dev/null | awk '{ print $12 + $13 }') || t=0
		total=$((total + ${t:-0}))
	done
	echo "$total"
}

# measure NAME CMD...: one wrk run against /plain of a fresh server; sets rate
# (req/s) and eff (requests per CPU-second of the server).
measure() {
	local name=$1
	shift
	start "$@"
	# A short warm-up, not measured: connections, the Date cache, page faults.
	taskset -c "$CLIENT_CPU" wrk -t1 -c64 -d1s "http://$addr/plain" >/dev/null
	local t0 t1 out
	t0=$(cpu_ticks)
	out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c64 -d"$DURATION" "http://$addr/plain" | awk '
		/Non-2xx or 3xx responses/ { bad = 1 }
		/Socket errors/ { bad = 1 }
		/ requests in / { n = $1 }
		/^Requests\/sec:/ { rate = $2 }
		END { if (bad || rate == "") exit 1; print rate, n }') || {
		echo "bench-overhead: wrk against $name failed or saw errors" >&2
		exit 1
	}
	t1=$(cpu_ticks)
	stop
	rate=${out% *}
	eff=$(awk -v n="${out#* }" -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { print (d > 0 ? n * hz / d : 0) }')
	printf '  %-14s %9.0f req/s %9.0f req/cpu-s\n' "$name" "$rate" "$eff" >&2
}

# procs_of MODEL EXTRA...: the GOMAXPROCS the model runs with on one CPU
# (its /stats "gomaxprocs", set by its policy: servers/models/procs.go). The
# bare server of its library runs with the same, so that the ratio measures
# the harness's bookkeeping, not the model's scheduling policy: thread runs 8
# Ps on one CPU so that the kernel time-slices its request threads as it does
# Apache's, which costs a bare fasthttp as much (async preemption was 10 % of
# its CPU profile at 8 Ps, none at 1).
procs_of() {
	start bin/concbench serve --model "$@" --addr 127.0.0.1:0
	local body
	exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}"
	printf 'GET /stats HTTP/1.0\r\nHost: x\r\n\r\n' >&3
	body=$(cat <&3)
	exec 3<&-
	stop
	procs=$(printf '%s' "$body" | grep -o '"gomaxprocs": *[0-9]*' | grep -o '[0-9]*$' | head -1 || true)
	if [ -z "$procs" ]; then
		echo "bench-overhead: no gomaxprocs in $1's /stats" >&2
		exit 1
	fi
}

declare -A bare_procs
for pair in $MODELS; do
	model=${pair%%:*}
	extra=()
	[ "$model" = cluster ] && extra=(--procs 1)
	procs_of "$model" "${extra[@]}"
	bare_procs[$model]=$procs
done

echo "bench-overhead: $ROUNDS rounds, wrk -t1 -c64 -d$DURATION on CPU $CLIENT_CPU, servers on CPU $SERVER_CPU; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
: >"$work/samples"
for r in $(seq "$ROUNDS"); do
	echo "round $r" >&2
	for pair in $MODELS; do
		model=${pair%%:*}
		lib=${pair#*:}
		extra=()
		[ "$model" = cluster ] && extra=(--procs 1)
		# Odd rounds run the bare server first, even rounds the model first
		# (ABBA): whatever the machine does to the second run of a pair — a
		# warmer cache, a host that has started to steal CPU — falls on both
		# sides alike over two rounds.
		if [ $((r % 2)) -eq 1 ]; then
			measure "bare-$lib" env GOMAXPROCS="${bare_procs[$model]}" bin/barehello -lib "$lib" -addr 127.0.0.1:0
			bare_rate=$rate bare_eff=$eff
			measure "$model" bin/concbench serve --model "$model" --addr 127.0.0.1:0 "${extra[@]}"
		else
			measure "$model" bin/concbench serve --model "$model" --addr 127.0.0.1:0 "${extra[@]}"
			model_rate=$rate model_eff=$eff
			measure "bare-$lib" env GOMAXPROCS="${bare_procs[$model]}" bin/barehello -lib "$lib" -addr 127.0.0.1:0
			bare_rate=$rate bare_eff=$eff
			rate=$model_rate eff=$model_eff
		fi
		echo "$model $lib $rate $bare_rate $eff $bare_eff ${bare_procs[$model]}" >>"$work/samples"
	done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# Each round wrote "MODEL LIB MODEL_RATE BARE_RATE MODEL_EFF BARE_EFF" per
# pair: medians per model, and the range of the per-round ratios.
awk -v pairs="$MODELS" -v load="$load_end" '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j+1] = a[j]; a[j+1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
{ m = $1; n[m]++; lib[m] = $2; procs[m] = $7; M[m, n[m]] = $3; B[m, n[m]] = $4; R[m, n[m]] = $3 / $4
  E[m, n[m]] = $5; F[m, n[m]] = $6 }
END {
	np = split(pairs, order, " ")
	printf "\n| model | req/s | bare library (GOMAXPROCS) | req/s | ratio | per-round ratios | req/CPU-s ratio |\n|---|---|---|---|---|---|---|\n"
	for (k = 1; k <= np; k++) {
		split(order[k], mp, ":"); m = mp[1]
		if (!(m in n)) continue
		for (i = 1; i <= n[m]; i++) { mm[i] = M[m, i]; bb[i] = B[m, i]; rr[i] = R[m, i]; ee[i] = E[m, i]; ff[i] = F[m, i] }
		for (i = 1; i <= n[m]; i++) qq[i] = (ff[i] > 0 ? ee[i] / ff[i] : 0)
		lo = rr[1]; hi = rr[1]; for (i = 2; i <= n[m]; i++) { if (rr[i] < lo) lo = rr[i]; if (rr[i] > hi) hi = rr[i] }
		mmed = median(mm, n[m]); bmed = median(bb, n[m]); rmed = median(rr, n[m]); qmed = median(qq, n[m])
		printf "| %s | %.1fk | %s (%s) | %.1fk | %.2f | %.2f–%.2f | %.2f |\n", m, mmed/1000, lib[m], procs[m], bmed/1000, rmed, lo, hi, qmed
	}
	printf "\nreq/s: medians of %d interleaved rounds (ABBA order); ratio: the median of the\n", n[m]
	printf "per-round ratios, each of a model and its bare library measured back to back,\n"
	printf "which a machine whose speed drifts between rounds (a VM whose host steals CPU)\n"
	printf "disturbs far less than a ratio of medians; load average at the end: %s\n", load
	printf "bare library (GOMAXPROCS): each bare server runs with the GOMAXPROCS of its model\n"
	printf "(its policy, read from its /stats), so the ratio measures the harness alone.\n"
	printf "req/CPU-s: requests per CPU-second the server used (user + system), which\n"
	printf "load from other processes on the server CPU disturbs far less than req/s.\n"
}' "$work/samples"
