# The two commands of the README, and the pieces `make check` runs.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run check lint test services clean

run: $(STAMP)  ## install, then serve on the embedded default (SQLite)
	$(VENV)/bin/slotwise serve

check: $(STAMP) services lint test  ## every check: ruff, mypy, import contracts, the whole test suite

# caldav needs niquests, whose urllib3-future wheel overwrites the real urllib3 (requests,
# schemathesis): built from source with URLLIB3_NO_OVERRIDE it installs beside it instead.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	URLLIB3_NO_OVERRIDE=1 $(PY) -m pip install --quiet --no-binary urllib3-future -e '.[dev]'
	touch $(STAMP)

services:
	scripts/services.sh
	scripts/chromium.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: $(STAMP)
	$(VENV)/bin/pytest -n 2 --dist loadgroup -q -m "not timed"
	$(VENV)/bin/pytest -n 0 -q -m timed

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
