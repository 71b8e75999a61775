# concbench — `make help` lists the targets.
GO      ?= go
BIN     := bin/concbench
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/concbench/concbench/cli.Version=$(VERSION)
FUZZTIME ?= 30s

.DEFAULT_GOAL := help
.PHONY: help build test vet fuzz bench-go clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/concbench
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) .

vet: ## go vet every package
	$(GO) vet ./...

test: vet ## vet, then every test with the race detector (the CI gate)
	$(GO) test -race -shuffle=on -timeout 8m ./...

fuzz: ## fuzz every parser for FUZZTIME each (default 30s)
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./workloads/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./servers/httpwire/

bench-go: ## Go benchmarks of one unit of each workload (backtracking doubles per character)
	$(GO) test -run '^$$' -bench . -benchtime 3x ./workloads/

clean: ## remove bin/ (results/ is kept)
	rm -rf bin
