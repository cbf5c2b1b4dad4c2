# SparseWorks: the README's commands. Every target sets up .venv first (only when
# pyproject.toml or constraints.txt changed since the last install).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  := torch==2.13.0
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
PYTEST := $(PY) -m pytest

.PHONY: setup lint test test-all demo notebooks bench clean

setup: $(STAMP)

$(STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "pip==26.3"
	@# torch first, from its exact pin, so that nothing pulls another (multi-GB CUDA) build
	$(PY) -m pip install --quiet --disable-pip-version-check $(TORCH)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[all]" --group dev
	@rm -f $(VENV)/.installed-*
	@touch $@

lint: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

test: lint
	$(PYTEST)

test-all: setup
	$(PYTEST) -m "slow or not slow"

demo: setup
	$(VENV)/bin/sparseworks demo

bench: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt --group bench
	@set -e; for script in benchmarks/*.py; do \
		[ -e "$$script" ] || continue; \
		echo "== $$script"; OMP_NUM_THREADS=1 $(PY) "$$script"; \
	done

clean:
	rm -rf $(VENV) .pytest_cache
