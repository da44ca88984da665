# nixfleet-activate: build, test, lint, bench, demo.
GO ?= go
BIN := bin/nixfleet-activate
# VERSION is stamped into the binary (nixfleet-activate --version).
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: build test test-real fleet-suite nix-check lint bench demo explore fuzz mutate mutate-pipeline mutate-real clean

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/nixfleet-activate

## test: every unit test and every scenario (simulated host; no NixOS needed).
test:
	$(GO) test -race ./...

## fleet-suite: the example fleet's scenario suite through the built binary, as a fleet's CI runs it
## (no Go toolchain needed there); the JUnit report goes to bin/fleet-suite.xml.
fleet-suite: build
	$(BIN) scenario run --junit bin/fleet-suite.xml examples/fleet-suite/

## test-real: the suites against real Nix and real systemd (needs root; installs packages).
test-real:
	bash scripts/real/setup.sh
	NIXFLEET_REQUIRE_REAL=1 $(GO) test -count=1 -timeout 15m ./backends/real/... ./cmd/nixfleet-activate/

## nix-check: the Nix files parse, the module evaluates to the expected units, they run in the
## container of the real suites, vendorHash is current (root, nix-bin, ../shared/nixpkgs-lib).
nix-check:
	bash scripts/nix/check.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: the fuzz targets, FUZZTIME each (default 100000x: about 10 s each here): the record parser and journal, the CLI arguments.
# GOTCHA: a count, not a duration: Go 1.26's fuzz coordinator may fail a duration-bounded run with a bare
# "context deadline exceeded" at its end (golang/go#75804, fixed in Go 1.27); a count sets no deadline.
FUZZTIME ?= 100000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzRecord$$' -fuzztime $(FUZZTIME) ./pipeline
	$(GO) test -run '^$$' -fuzz '^FuzzParseArgs$$' -fuzztime $(FUZZTIME) ./cmd/nixfleet-activate

## mutate: mutation testing with gremlins (pinned; go run, so it stays out of go.mod): each mutant of
## pipeline/ runs against pipeline's own tests and the run fails under 90 % efficacy (killed over
## killed + lived); backends/real/ is reported without a gate. Prints killed, lived (survived), not
## covered, timed out and efficacy per package. MUTATE_WORKERS=1 on a shared 2-core machine.
## Measured (2 cores shared, load ~10): pipeline/ 300 mutants in 37 min with 1 worker; backends/real/
## runs its real-tool suites per mutant where Nix and systemd are installed (~5 min each: hours), so
## this is a scheduled target, not a CI step.
GREMLINS ?= $(GO) run github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0
MUTATE_WORKERS ?= 1
MUTATE_FLAGS ?= --workers $(MUTATE_WORKERS) --timeout-coefficient 3
mutate: mutate-pipeline mutate-real

mutate-pipeline:
	$(GREMLINS) unleash $(MUTATE_FLAGS) --threshold-efficacy 90 ./pipeline

mutate-real:
	$(GREMLINS) unleash $(MUTATE_FLAGS) ./backends/real

## demo: one activation on the embedded simulated host, with a timeline and the final JSON.
demo:
	$(GO) run ./cmd/nixfleet-activate --sim happy --log-format text activate

## explore: every combination of up to 3 faults against the pipeline on the simulated host (explore -h).
explore:
	$(GO) run ./cmd/nixfleet-activate explore --depth 3

clean:
	rm -rf bin
