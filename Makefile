# nixfleet-activate: build, test, lint, bench, demo.
GO ?= go
BIN := bin/nixfleet-activate
# VERSION is stamped into the binary (nixfleet-activate --version).
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: build test test-real nix-check lint bench demo explore fuzz clean

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/nixfleet-activate

## test: every unit test and every scenario (simulated host; no NixOS needed).
test:
	$(GO) test -race ./...

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

## fuzz: the fuzz targets, FUZZTIME each (default 10s): the record parser and journal, the CLI arguments.
FUZZTIME ?= 10s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzRecord$$' -fuzztime $(FUZZTIME) ./pipeline
	$(GO) test -run '^$$' -fuzz '^FuzzParseArgs$$' -fuzztime $(FUZZTIME) ./cmd/nixfleet-activate

## demo: one activation on the embedded simulated host, with a timeline and the final JSON.
demo:
	$(GO) run ./cmd/nixfleet-activate --sim happy --log-format text activate

## explore: every combination of up to 3 faults against the pipeline on the simulated host (explore -h).
explore:
	$(GO) run ./cmd/nixfleet-activate explore --depth 3

clean:
	rm -rf bin
