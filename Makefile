# The entry points people type. `make run` starts the platform with a demo province;
# `make test` passes the whole suite on real Kafka and PostgreSQL.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := contracts libs/chassis services/identity-matching services/verification services/publicity \
            services/disbursement services/query services/reporting services/console deploy/local
PACKAGED := $(VENV)/.packages
STAMP := $(VENV)/.installed
NATIVE := libs/native
TOOLS := .tools/bin
KUSTOMIZE_VERSION := v5.7.1
K8S_NODE := deploy/k8s/validate/node_modules/.installed
PYTEST_ARGS ?=

.PHONY: help run test up down status demo schemas check-schemas prereqs k8s-tools browser clean bench

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

prereqs: ## Java and Maven for the local Kafka broker (installed with apt-get when missing and root)
	@command -v java >/dev/null && command -v mvn >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing a JDK and Maven with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jdk-headless maven >/dev/null; \
	  else echo "Kafka needs Java 17+ and Maven: install them first" >&2; exit 1; fi; }

$(PACKAGED): constraints.txt requirements-dev.txt $(foreach p,$(PACKAGES),$(p)/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -r requirements-dev.txt $(foreach p,$(PACKAGES),-e $(p))
	touch $@

# The native halves of the chassis (optional): without cargo, or when the crate does not build, the
# chassis seals personal fields and makes Kafka record batches in Python (the same results, slower).
$(STAMP): $(PACKAGED) $(NATIVE)/pyproject.toml $(NATIVE)/Cargo.toml $(wildcard $(NATIVE)/src/*.rs)
	@$(BIN)/pip uninstall -y -q aid-sealer 2>/dev/null || true  # its former name
	@export PATH="$$HOME/.cargo/bin:$$PATH"; if command -v cargo >/dev/null; then \
	  echo "building the chassis' native module ($(NATIVE), Rust)"; $(BIN)/pip install -q ./$(NATIVE) || { \
	    echo "the native module did not build: the chassis works in Python (the same results, slower)" >&2; \
	    $(BIN)/pip uninstall -y -q aid-native 2>/dev/null || true; }; \
	else echo "no Rust toolchain (cargo): the chassis works in Python (the same results, slower)" >&2; \
	  $(BIN)/pip uninstall -y -q aid-native 2>/dev/null || true; fi
	touch $@

$(TOOLS)/kustomize:
	@command -v go >/dev/null || { echo "rendering deploy/k8s needs Go 1.22 or newer (kustomize is built from its module)" >&2; exit 1; }
	GOBIN=$(CURDIR)/$(TOOLS) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

$(K8S_NODE): deploy/k8s/validate/package.json
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	  else echo "validating deploy/k8s needs Node.js and npm" >&2; exit 1; fi; }
	cd deploy/k8s/validate && npm install --no-package-lock --no-audit --no-fund --loglevel=error
	touch $@

k8s-tools: $(TOOLS)/kustomize $(K8S_NODE) ## kustomize and the Strimzi schemas, to render and validate deploy/k8s

browser: ## Chromium and a Chinese font for the console's browser tests (apt-get when missing and root)
	@command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "wqy\|cjk" || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Chromium and a CJK font with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	  else echo "the browser tests need Chromium (Debian: chromium) and a CJK font: they skip without them" >&2; fi; }

venv: $(STAMP) ## Make the virtual environment (.venv) with every package

run: prereqs $(STAMP) ## Start the platform with a demo province and keep it running (Ctrl-C stops it)
	$(BIN)/aidctl run

up: prereqs $(STAMP) ## Start the platform in the background
	$(BIN)/aidctl up

down: $(STAMP) ## Stop the platform
	$(BIN)/aidctl down

status: $(STAMP) ## Processes, health and consumer lag
	$(BIN)/aidctl status

test: prereqs $(STAMP) k8s-tools browser ## Unit, integration and end-to-end tests on real Kafka and PostgreSQL
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "no test ran: that is a failure" >&2; exit 1; fi; exit $$rc

schemas: $(STAMP) ## Regenerate contracts/schemas and the AsyncAPI document from the event models
	$(BIN)/python -m aid_contracts.schemas generate

check-schemas: $(STAMP) ## Fail when an event model changed incompatibly with the committed schema
	$(BIN)/python -m aid_contracts.schemas check

clean: ## Remove the virtual environment, local state and tools
	rm -rf $(VENV) .state .tools deploy/k8s/validate/node_modules

bench: prereqs $(STAMP) ## Every benchmark, each figure against its goal: bench/results/*.json, docs/benchmarks.md (BENCH_SCALE=quick: small)
	$(BIN)/python bench/suite.py
