# The two commands of the README:
#   make demo   build everything (adapters included) and start the platform with the demo city
#   make test   run every check and test; CI runs this
# Everything else here is a step of those two.

CARGO ?= cargo
LISTEN ?= 127.0.0.1:8080
DATA ?= ./demo-data

.PHONY: demo test build adapters fmt-check clippy unit-tests e2e-build bench

demo: build
	./target/release/hcp demo --listen $(LISTEN) --data $(DATA)

build: adapters
	$(CARGO) build --release --workspace --bins

# Reference adapters (WASM components) live in adapters/<name>/; each is built for
# wasm32-wasip2. The target is installed on demand, so a fresh machine needs only rustup.
adapters:
	@set -e; found=0; \
	for manifest in adapters/*/Cargo.toml; do \
	  [ -f "$$manifest" ] || continue; found=1; \
	done; \
	if [ $$found = 1 ]; then \
	  rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2; \
	  for manifest in adapters/*/Cargo.toml; do \
	    echo "building adapter $$manifest"; \
	    $(CARGO) build --release --target wasm32-wasip2 --manifest-path "$$manifest"; \
	  done; \
	else \
	  echo "no adapters to build"; \
	fi

test: fmt-check clippy adapters e2e-build unit-tests

fmt-check:
	@echo "== step: formatting (cargo fmt --check)"
	$(CARGO) fmt --all -- --check

clippy:
	@echo "== step: lints (cargo clippy -D warnings)"
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The end-to-end tests drive the real binary.
e2e-build:
	@echo "== step: build the hcp binary for end-to-end tests"
	$(CARGO) build -p hcp-server --bin hcp

unit-tests:
	@echo "== step: tests (unit, API, store model, calendar, end-to-end)"
	$(CARGO) test --workspace

# Ingest benchmark against the real HTTP endpoint (release build).
bench:
	$(CARGO) build --release -p hcp-server --bin hcp
	$(CARGO) bench -p hcp-e2e --bench ingest
