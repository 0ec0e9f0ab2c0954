# The two set-up commands of the README: `make demo` and `make test`.
# Both create .venv in the repo root and install everything themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[all]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/ottlake demo

test: $(STAMP)
	$(VENV)/bin/pytest tests

test-fast: $(STAMP)
	$(VENV)/bin/pytest tests -m "not slow"

bench: $(STAMP)
	$(PY) -m benchmarks.run

clean:
	-$(VENV)/bin/ottlake stack down
	rm -rf $(VENV) .ottlake lake
