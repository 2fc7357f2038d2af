# DevMesh: `make run` serves on 127.0.0.1:8000, `make test` runs the whole suite.
# Both install what is missing (system packages, .venv, local MariaDB + FalkorDB) and are
# fast the second time: slow artefacts are cached under ~/.cache/devmesh and ~/.cache/pip.

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
DEVMESH := $(BIN)/devmesh
SYSTEM_PACKAGES := libmariadb-dev libsystemd-dev pkg-config debootstrap systemd-journal-remote prometheus rsyslog \
	nodejs chromium chromium-driver
HOST ?= 127.0.0.1
# The real-model tests first, alone (llama.cpp's threads spin: beside other work on 2 cores they
# run several times slower), then the rest in pytest-xdist workers, a whole test file per
# worker (a module's eval run is made once). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
PORT ?= 8000

.PHONY: run test services services-stop migrate install sysdeps clean lab-deps ui

run: migrate ui
	$(DEVMESH) load-inventory
	$(DEVMESH) runbooks ingest runbooks
	$(DEVMESH) serve --host $(HOST) --port $(PORT)

test: migrate ui
	$(BIN)/lint-imports
	$(BIN)/ruff check --select F,E9 .
	$(BIN)/pytest -m local_llm --durations=3
	$(BIN)/pytest -m 'not local_llm' -n $(TEST_WORKERS) --dist loadfile --durations=10

migrate: services
	$(DEVMESH) migrate

services: install
	$(DEVMESH) services up

services-stop:
	@if [ -x $(DEVMESH) ]; then $(DEVMESH) services down; else echo "nothing to stop (no .venv)"; fi

install: sysdeps $(VENV)/.installed

sysdeps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO=sudo; \
		else echo "need root (or sudo) to apt-get install:$$missing" >&2; exit 1; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# torch 2.13.0 first (the CPU build; an unpinned torch pulls GBs of CUDA), then devmesh; a
# finished venv is cached per pyproject.toml under ~/.cache/devmesh/venv and a new clone takes a
# hard-linked copy of it (scripts/venv.sh).
$(VENV)/.installed: pyproject.toml scripts/venv.sh
	bash scripts/venv.sh $(VENV)
	touch $@

# The web UI (ui/, served under /ui): npm ci from the lock file (cache in ~/.npm), then an
# esbuild bundle into ui/dist; both redone only when their inputs change.
UI_SOURCES := ui/build.mjs ui/index.html $(wildcard ui/src/*.js ui/src/*.css ui/src/pages/*.js)
ui: ui/dist/index.html

ui/node_modules/.package-lock.json: ui/package.json ui/package-lock.json
	@command -v npm >/dev/null || { echo "installing npm"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm; }
	cd ui && npm ci --no-audit --no-fund --prefer-offline --loglevel=error
	touch $@

ui/dist/index.html: ui/node_modules/.package-lock.json $(UI_SOURCES)
	cd ui && node build.mjs

# The fault lab's software (`devmesh lab record`, evals/README.md); `make test` does not need it.
LAB_PACKAGES := nginx redis-server stress-ng nftables nodejs iproute2 util-linux
lab-deps:
	@missing=""; for p in $(LAB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing lab packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO=sudo; \
		else echo "need root (or sudo) to apt-get install:$$missing" >&2; exit 1; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@for s in nginx redis-server; do \
		if command -v systemctl >/dev/null && systemctl is-active -q $$s 2>/dev/null; then \
			echo "note: the distribution's $$s service is running; the lab starts its own on 127.0.1.x"; fi; done

clean: services-stop
	rm -rf $(VENV) .devmesh
