# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml setup.py codeflow/code/_native.c
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	@command -v java >/dev/null || { echo "Java 17+ is required for Spark (apt-get install openjdk-17-jre-headless)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -e ".[dev]"
	@$(BIN)/python -c 'from codeflow.code.validate import native_status; print("code validation:", native_status())'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/codeflow demo --lake ./lake

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

lint: $(STAMP)
	$(BIN)/ruff check .

# Benchmarks are not tests: each script times codeflow and its anchor (datatrove, datasketch, PyDriller,
# git, ast.parse, a bare tree-sitter parse, a dense model) in the same run and prints the ratio.
# bench/triplets.py needs a real repository with a long history: make bench TRIPLETS_REPO=/path/to/repo
bench: $(STAMP)
	$(BIN)/pip install -q -e ".[dev,bench]"
	@for b in bench/clean_cc.py bench/dedup.py bench/code.py bench/fim.py bench/model.py; do \
		echo "== $$b"; $(BIN)/python $$b || exit 1; done
	@if [ -n "$(TRIPLETS_REPO)" ]; then echo "== bench/triplets.py"; \
		$(BIN)/python bench/triplets.py --repo "$(TRIPLETS_REPO)"; \
	else echo "== bench/triplets.py skipped: set TRIPLETS_REPO=/path/to/a/repo/with/1000+/commits"; fi

clean:
	rm -rf lake .pytest_cache .ruff_cache build *.egg-info
