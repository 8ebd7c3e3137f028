# m2m-edge — two commands: `make dev` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := dev

PORT ?= 8787
CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
export PATH := $(CARGO_BIN):$(CURDIR)/node_modules/.bin:$(PATH)
# No network but the package registries: no metrics, no request.cf fetch.
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false

SOURCES := $(shell find crates examples -path '*/build' -prune -o -path crates/cli -prune -o \( -name '*.rs' -o -name '*.js' -o -name Cargo.toml \) -print) Cargo.toml Cargo.lock

.PHONY: dev test size tools build cli test-host test-glue test-e2e test-api test-smoke lint fuzz latency latency-model key-costs bench clean

## Install what is missing: wasm32 target, worker-build, wasm-bindgen-cli, npm packages.
tools:
	@scripts/ensure-tools.sh

## Release build of the worker into build/, of the example edge API
## into examples/edge-api/build/, and the CLI into target/debug/m2m-edge
## (incremental).
build: tools build/index.js build/admin/index.js build/assets/openapi.json examples/edge-api/build/index.js cli

## The command line (crates/cli): target/debug/m2m-edge.
cli: tools
	cargo build -p m2m-edge-cli

# The Workers are built for size ("z"), the host binaries (the CLI, the
# native verifier) for speed (the release profile's 3): a fresh isolate
# compiles the whole wasm before its first request, and at "z" it is a
# third of the size and its first token ~25 % sooner, for ~15 µs more CPU
# per warm token (docs/architecture.md, "Performance decisions"). Both
# Workers share the setting, so they share cargo's build of their deps.
WASM_OPT_LEVEL ?= z

# worker-build would download wasm-bindgen, wasm-opt and esbuild; point it
# at the local copies instead. `$(call worker,CRATE,OUT,CARGO-ARGS)` builds
# CRATE for wasm32 into OUT. Its own wasm-opt run always keeps the `name`
# section (it passes --debuginfo whatever the profile says), so a second,
# pass-free wasm-opt run drops the debugging sections: `name` and
# `producers` (~1 s).
define worker
	CARGO_PROFILE_RELEASE_OPT_LEVEL=$(WASM_OPT_LEVEL) \
	WASM_BINDGEN_BIN=$(CARGO_BIN)/wasm-bindgen \
	WASM_OPT_BIN=$(CURDIR)/node_modules/.bin/wasm-opt \
	ESBUILD_BIN=$(CURDIR)/node_modules/.bin/esbuild \
	worker-build --release --out-dir $(CURDIR)/$(2) $(1) $(3)
	wasm-opt $(2)/index_bg.wasm --strip-debug --strip-producers -o $(2)/index_bg.wasm
	@touch $(2)/index.js
endef

# Two Workers from crates/worker (docs/architecture.md, "Two Workers"): the
# token service (wrangler.toml) into build/, and the admin Worker
# (wrangler.admin.toml, the feature `admin`) into build/admin/. One after
# the other: they share cargo's build of every dependency.
build/index.js: $(SOURCES)
	$(call worker,crates/worker,build)

build/admin/index.js: $(SOURCES) build/index.js
	$(call worker,crates/worker,build/admin,--features admin)

# The OpenAPI document, served as a static asset (wrangler.toml [assets]).
build/assets/openapi.json: crates/core/openapi.json scripts/openapi-asset.mjs build/index.js
	node scripts/openapi-asset.mjs

examples/edge-api/build/index.js: $(SOURCES)
	$(call worker,examples/edge-api,examples/edge-api/build)

# Test-only: the runtime's floor for a token as a Rust/wasm Worker, built
# exactly like the token service (make bench sets it beside the JS floor).
scripts/bench/wasm-floor/build/index.js: scripts/bench/wasm-floor/Cargo.toml scripts/bench/wasm-floor/src/lib.rs Cargo.lock
	$(call worker,scripts/bench/wasm-floor,scripts/bench/wasm-floor/build)

.dev.vars:
	@node scripts/dev-vars.mjs > .dev.vars
	@echo "==> wrote .dev.vars with fresh local ADMIN_API_KEY and SIGNING_KEYS"

## Build, migrate the local D1, and serve on 127.0.0.1:$(PORT), with one
## issuer: ISSUER is the URL it serves on (without it, every loopback name
## would be an issuer of its own). Both Workers in one wrangler dev: the
## token service, and the admin Worker behind it (which, with no ISSUER of
## its own here, takes the loopback origin the token service forwards).
dev: build .dev.vars
	@wrangler d1 migrations apply DB --local > /dev/null
	@scripts/dev-banner.sh $(PORT)
	wrangler dev -c wrangler.toml -c wrangler.admin.toml --ip 127.0.0.1 --port $(PORT) --var ISSUER:http://127.0.0.1:$(PORT)

## Every test ring: host unit/flow tests, e2e in workerd (Miniflare), wrangler dev smoke;
## and the wasm size budget.
test: build size lint test-host test-glue test-e2e test-api test-smoke

## The worker's wasm against its size budget (gzip -9, KiB): one line; fails over it.
size: build
	@node scripts/wasm-size.mjs

# The verifier's tests run twice natively: with its default back end
# (aws-lc-rs) and with the pure-Rust fallback (p256) that targets without
# AWS-LC use.
test-host: tools
	cargo test --workspace
	cargo test -p m2m-edge-verify --no-default-features --features verifier

## rustfmt, and clippy on the host and for wasm32 (both Workers' feature sets), warnings as errors (part of `make test`).
lint: tools
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings
	cargo clippy --workspace --exclude m2m-edge-cli --all-targets --all-features --target wasm32-unknown-unknown -- -D warnings
	cargo clippy -p m2m-edge-worker --target wasm32-unknown-unknown -- -D warnings

# The JS half of the Worker glue (crates/worker/src/glue.js), in Node.
test-glue: tools
	node --import ./tests/glue/cloudflare-workers.mjs --test tests/glue/

# The same suite, same assertions, once per storage configuration: D1 with
# the token path on read replicas (as deployed), and D1 alone (tests/e2e/harness.mjs).
test-e2e: build
	M2M_STORAGE=d1-replicas node --test --test-concurrency=1 tests/e2e/
	M2M_STORAGE=d1 node --test --test-concurrency=1 tests/e2e/

# schemathesis against the OpenAPI document the worker serves (tests/api).
test-api: build
	node --test tests/api/

test-smoke: build
	node --test tests/smoke/

## Coverage-guided fuzzing (cargo-fuzz, libFuzzer, nightly; not part of `make test`):
## every target for FUZZ_SECONDS (default 60); findings land in fuzz/artifacts/.
FUZZ_SECONDS ?= 60
fuzz: tools
	@command -v cargo-fuzz > /dev/null || { echo "==> cargo install cargo-fuzz (a few minutes, once)"; cargo install cargo-fuzz --locked; }
	@set -o pipefail; for target in form admin_json request; do \
	  echo "==> fuzz $$target for $(FUZZ_SECONDS) s"; \
	  (cd fuzz && cargo +nightly fuzz run $$target -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1) 2>&1 \
	    | grep -E "^(Done|stat::number_of_executed_units|==[0-9]+== ERROR|SUMMARY)" || exit 1; \
	done

## Benchmark (not a test): token endpoint vs node-oidc-provider and the worker's
## JWKS ceiling, writes BENCHMARKS.md. `make bench QUICK=1`: a second per point.
bench: build scripts/bench/wasm-floor/build/index.js
	@command -v oha > /dev/null || { echo "==> cargo install oha 1.16.0 (several minutes, once)"; cargo install oha --version 1.16.0 --locked; }
	QUICK=$(QUICK) node scripts/bench/run.mjs

## p50/p90/p99 of a token request under wrangler dev, per backend (not a test).
latency: build
	node scripts/latency.mjs 300

## What a caller in each region waits for, per request kind: the real worker
## with the round trips of a placement added to each D1 query (a test-only
## shim, scripts/latency-model/); writes its table into BENCHMARKS.md (not a test).
latency-model: build
	node scripts/latency-model/run.mjs

## Managed-key record size and cold-vs-warm first token cost (not a test).
key-costs: build
	node scripts/key-costs.mjs 7

clean:
	rm -rf build examples/edge-api/build scripts/bench/wasm-floor/build target .wrangler
