# Switchboard: `make run` starts the embedded local stack, `make test` runs the suite.
# Both create .venv/ and install requirements on first use; the stamp file makes
# later runs skip installation until a requirements file changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
INFRA_STAMP := $(VENV)/.installed-infra
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test soak fuzz check-infra bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	PORT=$(PORT) HOST=$(HOST) $(PY) -m infra.local

# pytest exits 5 when it collected no tests; that is not a failure of the suite.
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi

# The long runs at volume (tests marked `soak`), kept out of `make test`.
soak: $(STAMP)
	$(PY) -m pytest -m soak $(PYTEST_ARGS)

# The input sweep with many more generated examples per route (tests/test_input_sweep.py).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q tests/test_input_sweep.py

# Infrastructure deps (CDK, cfn-lint) go into the same .venv with their own stamp, so
# `make test` never installs them.
$(INFRA_STAMP): $(STAMP) requirements-infra.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-infra.txt
	touch $(INFRA_STAMP)

# Offline: synthesizes the CDK app and the chalice package, lints both, checks the tables.
check-infra: $(INFRA_STAMP)
	$(PY) -m infra.check

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .local-data
