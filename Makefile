# citecache: `make demo` and `make test` work on a brand-new machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv install demo test lint format bench clean

# pip 23 installs trafilatura without lxml_html_clean, so pip is upgraded first;
# pyproject also names lxml_html_clean explicitly.
$(BIN)/citecache: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e . --group dev
	touch $@

venv: $(BIN)/citecache

# `citecache` on PATH without activating the venv: a link in ~/.local/bin (PREFIX=...).
PREFIX ?= $(HOME)/.local
install: $(BIN)/citecache
	mkdir -p $(PREFIX)/bin
	ln -sf $(abspath $(BIN)/citecache) $(PREFIX)/bin/citecache
	@echo "$(PREFIX)/bin/citecache -> $(abspath $(BIN)/citecache); $(PREFIX)/bin must be on PATH"

demo: $(BIN)/citecache
	$(BIN)/python demo/run.py

test: $(BIN)/citecache
	$(BIN)/python -m pytest -q

lint: $(BIN)/citecache
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(BIN)/citecache
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(BIN)/citecache
	$(BIN)/python bench/crawl_bench.py

clean:
	rm -rf $(VENV) data/demo.db* .pytest_cache
