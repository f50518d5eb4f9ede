# The two commands that matter: `make demo` and `make test` (see README.md).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install assets lint messages check-deploy bench-backfill clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet ".[dev]"
	@touch $(STAMP)

install: $(STAMP) assets

# Polaris CSS and Chart.js come from the npm registry at build time and are served by the app itself.
static/vendor/.stamp: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor/polaris static/vendor/chartjs
	cp node_modules/@shopify/polaris/build/esm/styles.css static/vendor/polaris/styles.css
	cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/dist/chart.umd.min.js.map static/vendor/chartjs/
	@touch $@

assets: static/vendor/.stamp

messages: $(STAMP)
	@# compilemessages only reads LOCALE_PATHS: DEBUG=1 spares it the production secrets.
	DEBUG=1 $(BIN)/python manage.py compilemessages --ignore=.venv --ignore=node_modules -v0

# Starts PostgreSQL/Redis-backed app + development store + Celery worker and beat, seeded, installed.
demo: install messages
	$(BIN)/python scripts/demo.py

test: install messages
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

check-deploy: $(STAMP)
	DJANGO_SECRET_KEY=$$($(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))") \
	TOKEN_ENCRYPTION_KEYS=$$($(BIN)/python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())") \
	SHOPIFY_API_KEY=k SHOPIFY_API_SECRET=s \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

bench-backfill: install
	$(BIN)/python bench/backfill.py

clean:
	rm -rf $(VENV) node_modules static/vendor staticfiles var
