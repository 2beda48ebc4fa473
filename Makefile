# Gatehouse's commands. `make run` and `make test` do all the set-up on a fresh Debian machine.
#
# Build outputs and installed tools live outside the clone, in $(GATEHOUSE_CACHE), so that a new
# clone reuses them and warm runs take minutes.

GATEHOUSE_CACHE ?= $(HOME)/.cache/gatehouse
export GATEHOUSE_CACHE
export CARGO_TARGET_DIR ?= $(GATEHOUSE_CACHE)/target
export PATH := $(GATEHOUSE_CACHE)/tools/bin:$(HOME)/.cargo/bin:$(PATH)
# Two cores on the CI machines: more jobs only add memory pressure.
export CARGO_BUILD_JOBS ?= 2
export CARGO_TERM_COLOR ?= never

.PHONY: setup setup-test build run test test-proxy test-rust test-site bench fmt lint clean-site

setup:
	scripts/setup.sh build

setup-test:
	scripts/setup.sh test

# The release binary and the site directory (hydrate wasm, JS and CSS) beside it in target/.
build: setup
	cargo leptos build --release
	scripts/link-build.sh release

# The embedded default: no configuration file, data in ./gatehouse-data, listening on 127.0.0.1:9091.
run: build
	./target/release/gatehouse serve

# Every test: unit and integration tests on SQLite and a throwaway PostgreSQL, then the portal's
# build and hydration check.
test: setup-test
	scripts/run-tests.sh

# The proxy suite alone, on SQLite: Chromium, nginx and Caddy in front of Gatehouse (needs root for
# port 443 on 127.0.0.2 and 127.0.0.3). Add GATEHOUSE_E2E_DATABASE=postgres and
# GATEHOUSE_TEST_POSTGRES_URL to run it on PostgreSQL.
test-proxy: setup-test
	cargo leptos build
	scripts/link-build.sh debug
	cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test --config proxy.config.ts

# The forward-auth hot path against a bare axum handler, on loopback; docs/benchmarks.md explains
# the output. Needs only the release server binary, not the site. Options go in BENCH_ARGS, for
# example `make bench BENCH_ARGS="--duration 10"`.
bench:
	cargo build --release -p gatehouse -p gatehouse-bench
	$(CARGO_TARGET_DIR)/release/gatehouse-bench $(BENCH_ARGS)

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
