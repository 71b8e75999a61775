# concbench — `make help` lists the targets.
GO      ?= go
BIN     := bin/concbench
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/concbench/concbench/cli.Version=$(VERSION)
FUZZTIME ?= 30s
# make bench: where results go, and extra flags for `concbench run`
# (e.g. BENCH_FLAGS="--plan full --reps 3" or "--models eventloop,goroutine").
RESULTS     ?= results
BENCH_FLAGS ?=

.DEFAULT_GOAL := help
.PHONY: help build test vet fuzz bench-go bench fidelity report screenshot ceiling clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/concbench and bin/concbench-serve (the servers alone, which runs use when it is there)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) .
	$(GO) build -o bin/concbench-serve ./cmd/concbench-serve

vet: ## go vet every package
	$(GO) vet ./...

# loadgen's live attacks judge their own validity (a starved generator fails
# them), so they run alone, after the other packages, which run side by side
# and load both CPUs with real servers.
test: vet ## vet, then every test with the race detector (the CI gate)
	$(GO) test -race -shuffle=on -timeout 8m $$($(GO) list ./... | grep -v '/loadgen$$')
	$(GO) test -race -shuffle=on -timeout 4m ./loadgen

fuzz: ## fuzz every parser for FUZZTIME each (default 30s)
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./workloads/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./servers/httpwire/
	$(GO) test -run '^$$' -fuzz '^FuzzStrictScan$$' -fuzztime $(FUZZTIME) ./servers/
	$(GO) test -run '^$$' -fuzz '^FuzzStrictScanSame$$' -fuzztime $(FUZZTIME) ./servers/

bench-go: ## Go benchmarks of one unit of each workload (backtracking doubles per character)
	$(GO) test -run '^$$' -bench . -benchtime 3x ./workloads/

# bench: `concbench run` measures, then writes report.html, summary.md and the
# charts into the results directory. It exits 3 when some cells are invalid
# (generator-bound or a failed server): the report says which and why, so make
# bench still succeeds then. Broken SLOs (4), interruption (130) and errors fail it.
bench: build ## run the default plan (quick: every model × 8 scenarios, ~4-5 min), write the report, print where it is
	@rc=0; $(BIN) run --out $(RESULTS) $(BENCH_FLAGS) || rc=$$?; \
	if [ $$rc -eq 3 ]; then exit 0; else exit $$rc; fi

# bench-overhead: each model's /plain peak beside a bare hello server on its
# library (gnet, fasthttp, net/http), wrk -t1 -c64, servers and wrk pinned to
# one CPU each; both servers up, wrk loads them in turn, PAIRS pairs of
# DURATION in ABBA order per start, INSTANCES starts; prints per model the
# median of the pair ratios with the range of the per-start medians, and an
# A/A control row. Skipped (exit 0) without wrk.
PAIRS ?= 6
INSTANCES ?= 5
.PHONY: bench-overhead
bench-overhead: ## each model's /plain peak ÷ its bare library's, with wrk (~9 min): make bench-overhead [INSTANCES=5] [PAIRS=6] [DURATION=1s]
	PAIRS='$(PAIRS)' INSTANCES='$(INSTANCES)' DURATION='$(if $(filter file,$(origin DURATION)),1s,$(DURATION))' GO='$(GO)' scripts/bench-overhead.sh

# fidelity: the built-in fidelity plan, each Go model beside the real system it
# stands for (Node.js, Apache httpd; scripts/install-references.sh installs
# them, and a missing one is skipped, its comparisons "not measured"). Exit
# code 3 (some cells invalid) is reported, not failed, as for bench.
fidelity: build ## each Go model beside its real system (Node.js, Apache), heavy work calibrated per server; prints "fidelity: N of M comparisons match" (~13 min)
	@rc=0; $(BIN) run --plan fidelity --out $(RESULTS) $(BENCH_FLAGS) || rc=$$?; \
	if [ $$rc -eq 3 ]; then exit 0; else exit $$rc; fi

report: build ## regenerate the report of a results directory: make report DIR=results/latest
	$(BIN) report $(or $(DIR),$(RESULTS)/latest)

screenshot: ## render a report.html headless to report.png (needs chromium): make screenshot DIR=results/latest
	scripts/screenshot.sh $(or $(DIR),$(RESULTS)/latest)

ceiling: build ## measure the load generator's ceiling (and wrk's, when installed); run reads it from RESULTS/ceiling.json
	$(BIN) ceiling --out $(RESULTS)

# profile: one cell (MODEL × SCENARIO of the default plan, at its rate unless
# RATE= is given) with the server's CPU profiled over the whole window, then the
# top functions by flat and cumulative CPU time and the go tool pprof command.
MODEL    ?= eventloop
SCENARIO ?= cpu-mix
RATE     ?=
DURATION ?= 10s
.PHONY: profile
profile: build ## profile one cell: make profile MODEL=eventloop SCENARIO=cpu-mix [RATE=] [DURATION=10s]; prints the top functions
	$(BIN) profile --model $(MODEL) --scenario $(SCENARIO) --duration $(DURATION) --out $(RESULTS)$(if $(RATE), --rate $(RATE))

# soak: one long /plain cell (default goroutine at 5000 req/s for 10 minutes,
# not part of make test) that prints the load generator's live heap and RSS per
# minute, at 1 minute and at the end, and fails when either grew more than
# 1.2× (concbench soak --max-growth). MODEL, RATE and DURATION default to the
# soak's own values unless given, whatever the profile target's defaults are.
# A generator-bound cell (exit 3) still measured the memory: not a failure.
SOAK_MODEL    = $(if $(filter file,$(origin MODEL)),goroutine,$(MODEL))
SOAK_RATE     = $(or $(RATE),5000)
SOAK_DURATION = $(if $(filter file,$(origin DURATION)),10m,$(DURATION))
.PHONY: soak
soak: build ## the generator's memory over a long run: make soak [MODEL=goroutine] [RATE=5000] [DURATION=10m]; fails above 1.2× growth
	@rc=0; $(BIN) soak --model $(SOAK_MODEL) --rate $(SOAK_RATE) --duration $(SOAK_DURATION) --out $(RESULTS) || rc=$$?; \
	if [ $$rc -eq 3 ]; then exit 0; else exit $$rc; fi

# ci-bench: the A/B regression check CI runs (README, "CI regression runs"): the
# base commit (BASE=rev, default HEAD~1) and HEAD built from temporary git
# worktrees, the short plan run with both interleaved CI_BENCH_REPS times each,
# then `concbench compare`. Exits 1 only on a significant regression beyond
# compare's default thresholds (or a real failure); skips (exit 0) when there
# is no base to compare with. Accept an intended slowdown with
# CONCBENCH_ACCEPT_REGRESSION=reason or an "Accept-Regression: reason" line in
# the commit message.
CI_BENCH_REPS ?= 7
.PHONY: ci-bench
ci-bench: ## A/B regression check of HEAD against BASE (default HEAD~1): interleaved short-plan runs, then compare (~4 min)
	BASE='$(BASE)' CI_BENCH_REPS='$(CI_BENCH_REPS)' GO='$(GO)' scripts/ci-bench.sh

clean: ## remove bin/ (results/ is kept)
	rm -rf bin
