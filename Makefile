# The two set-up commands of the README: `make demo` and `make test`.
# Both create .venv in the repo root and install everything themselves: missing
# system packages from Debian, the Python packages (pinned in constraints.txt),
# Delta's jars and JUnit's from Maven Central and ottlake's own jar, compiled with
# javac (all in .cache/jars, never fetched or built by a job).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JARS := .cache/jars/.fetched
# Airflow 3 and the Amazon provider, only to import the MWAA DAG file in its test
# (tests/integration/test_airflow_dag.py): a virtual environment of their own, since
# Airflow's pins are not the pipeline's.
AIRFLOW := .cache/airflow/.installed
AIRFLOW_PINS := apache-airflow==3.1.8 apache-airflow-providers-amazon==9.39.0
# The JavaScript clients the collector's tests run with Node (pinned in tests/js/package-lock.json).
JS_CLIENTS := tests/js/node_modules/.package-lock.json

.PHONY: install demo test test-fast bench clean airflow

install: $(STAMP) $(JARS) $(JS_CLIENTS)

$(STAMP): pyproject.toml constraints.txt scripts/ensure-system.sh
	bash scripts/ensure-system.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[all]'
	touch $(STAMP)

$(JARS): $(STAMP) spark_jobs/jars.py ottlake/platform.py $(shell find spark_jobs/java -name '*.java')
	$(PY) -m spark_jobs.jars fetch
	$(PY) -m spark_jobs.jars build
	touch $(JARS)

airflow: $(AIRFLOW)

$(AIRFLOW): pyproject.toml
	rm -rf .cache/airflow
	$(PYTHON) -m venv .cache/airflow
	.cache/airflow/bin/python -m pip install -q --upgrade pip
	.cache/airflow/bin/python -m pip install -q $(AIRFLOW_PINS) -e .
	touch $(AIRFLOW)

$(JS_CLIENTS): tests/js/package.json tests/js/package-lock.json scripts/ensure-system.sh
	npm ci --prefix tests/js --no-audit --no-fund

demo: install
	$(VENV)/bin/ottlake demo

test: install $(AIRFLOW)
	$(VENV)/bin/lint-imports
	$(PY) -m spark_jobs.jars junit
	$(VENV)/bin/pytest tests

test-fast: install
	$(VENV)/bin/pytest tests -m "not slow"

bench: install
	$(PY) -m benchmarks.run

clean:
	-$(VENV)/bin/ottlake stack down
	rm -rf $(VENV) .cache .ottlake lake demo-lake
