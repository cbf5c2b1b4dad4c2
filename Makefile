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

# two pytest workers: the suite is mostly single-threaded subprocesses (2 cores)
test: lint
	$(PYTEST) -n 2


test-all: setup
	$(PYTEST) -n 2 -m "slow or not slow"

demo: setup
	$(VENV)/bin/sparseworks demo

NOTEBOOKS ?= blocking dynamics memory recsys
NOTEBOOKS_OUT := apps/notebooks/out

# each jupytext notebook executed into apps/notebooks/out/<name>.ipynb with its figures;
# SMOKE=1 for the smoke scale (seconds each), see apps/notebooks/README.md
notebooks: setup
	@mkdir -p $(NOTEBOOKS_OUT)
	@set -e; for name in $(NOTEBOOKS); do \
		echo "== $$name$(if $(SMOKE), (smoke scale))"; \
		$(VENV)/bin/jupytext --quiet --to ipynb --set-kernel python3 \
			--output $(NOTEBOOKS_OUT)/$$name.ipynb apps/notebooks/$$name.py; \
		SPARSEWORKS_SMOKE=$(SMOKE) SPARSEWORKS_NOTEBOOK_OUT=$(CURDIR)/$(NOTEBOOKS_OUT)/$$name \
			$(VENV)/bin/jupyter-execute --inplace --kernel_name=python3 --timeout=-1 $(NOTEBOOKS_OUT)/$$name.ipynb; \
	done
	@echo "executed notebooks in $(NOTEBOOKS_OUT)/ (open them in JupyterLab: apps/notebooks/README.md)"

bench: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt --group bench
	@set -e; for script in benchmarks/*.py; do \
		[ -e "$$script" ] || continue; \
		echo "== $$script"; OMP_NUM_THREADS=1 $(PY) "$$script"; \
	done

clean:
	rm -rf $(VENV) .pytest_cache
