# opsperf developer commands. `make demo` runs the app with demo data; `make test` runs every check.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
APP    := $(VENV)/.installed-app
DEV    := $(VENV)/.installed-dev

.PHONY: demo test lint check install clean translations

# Message catalogs: gettext calls, N_() markers, and the English message templates given to
# opsperf's domain errors and row problems. tests/test_i18n.py reads this keyword list too.
BABEL_KEYWORDS := -k _ -k gettext -k ngettext:1,2 -k lazy_gettext -k N_ -k OpsperfError \
	-k PermissionDenied -k Conflict -k ValidationFailed -k TransitionNotAllowed -k NotFound \
	-k RowProblem:2 -k Skipped:2
CATALOGS := opsperf/translations

# `make demo` installs what the app needs; `make test` adds the test and lint tools.
$(APP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(APP)

$(DEV): $(APP)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(DEV)

install: $(DEV)

demo: $(APP)
	$(BIN)/opsperf demo

check: $(APP)
	$(BIN)/opsperf check --strict

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint check
	$(BIN)/pytest

# Extract every message, merge it into the zh and en catalogs, compile them (the .mo files are
# committed). New or changed messages come out untranslated or fuzzy: translate them in
# $(CATALOGS)/<lang>/LC_MESSAGES/messages.po, then run this again; tests/test_i18n.py checks.
translations: $(DEV)
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --project=opsperf --version=0.1.0 \
		--copyright-holder="opsperf contributors" \
		--add-location=file --sort-output -o $(CATALOGS)/messages.pot .
	$(BIN)/pybabel update -i $(CATALOGS)/messages.pot -d $(CATALOGS) --ignore-obsolete
	$(BIN)/pybabel compile -d $(CATALOGS) --statistics

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
