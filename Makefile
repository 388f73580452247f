# Emhana — the two commands of the quick start are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test test-machine install pki bench lint typecheck fmt up down restart clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install pinned dependencies

run: $(STAMP) ## the whole mesh locally against AMQP_URL, demo data and certificates on first run (LOG=stderr: every log line here)
	$(PY) -m tools.launcher $(if $(CLOCK_START),--clock-start $(CLOCK_START),) $(if $(LOG),--log $(LOG),)

NODE_STAMP := examples/rest/node_modules/.installed

$(NODE_STAMP): examples/rest/package.json examples/rest/package-lock.json
	cd examples/rest && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# What the machine must have for the tests, said before anything is installed (the install takes a minute).
test-machine:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || [ -n "$$EMHANA_CHROMIUM" ] || \
		{ echo "make test: the page tests need Chromium: sudo apt-get install chromium (or set EMHANA_CHROMIUM)" >&2; exit 1; }
	@command -v promtool >/dev/null || \
		{ echo "make test: the alerting rules are checked with promtool: sudo apt-get install prometheus" >&2; exit 1; }
	@command -v npm >/dev/null || \
		{ echo "make test: the JavaScript signing example needs Node.js: sudo apt-get install nodejs npm" >&2; exit 1; }

test: test-machine $(STAMP) $(NODE_STAMP) ## the whole test suite (needs RabbitMQ on AMQP_URL; PostgreSQL on EMHANA_TEST_POSTGRES_URL; Node.js for the JS example; Debian's chromium for the page tests)
	$(PY) -m pytest -q

pki: $(STAMP) ## development CA and service certificates under var/pki
	$(PY) -m services.signature.ca bootstrap

bench: $(STAMP) ## throughput and p50/p99 figures (printed, never asserted)
	$(PY) -m tests.bench

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(MAKE) typecheck

typecheck: $(STAMP) ## mypy, strict on the common package (shared/wire, messaging, rules, platform)
	$(VENV)/bin/mypy shared/wire shared/messaging shared/rules shared/platform

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix .

# Docker Compose v2 (`docker compose`) where it is installed, else the standalone v1 (`docker-compose`).
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

COMPOSE_MISSING := echo "make up needs Docker with Compose (docker compose, or docker-compose): see https://docs.docker.com/compose/install/ — or run the mesh without containers: make run" >&2; exit 1

up: ## the same mesh in docker compose (RabbitMQ, PostgreSQL, migrations, CA, five services, Prometheus, Grafana)
	@$(COMPOSE) version >/dev/null 2>&1 || { $(COMPOSE_MISSING); }
	$(COMPOSE) -p emhana -f deploy/docker-compose.yml up --build

down:
	@$(COMPOSE) version >/dev/null 2>&1 || { $(COMPOSE_MISSING); }
	$(COMPOSE) -p emhana -f deploy/docker-compose.yml down

restart: ## restart one service of a running `make run`: make restart SERVICE=portal
	$(PY) -m tools.launcher --restart $(SERVICE)

clean:
	rm -rf var .pytest_cache .ruff_cache
