# The commands the README names. A fresh machine needs only python3 (3.11+), pip and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DB ?= archive.db
HOST ?= 127.0.0.1
PORT ?= 8001

.PHONY: install ingest serve screenshots test lint format bench-dumps bench-throughput clean-output

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# The system pip (23.x) cannot resolve trafilatura's lxml[html-clean]: upgrade it first.
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed  ## create .venv and install archiver with its dev tools

ingest: install  ## ingest raw/ into archive.db and clean/
	$(BIN)/archiver ingest raw/ --db $(DB) --clean-dir clean

serve: ingest  ## browse the archive in Datasette, read-only (mode=ro), on 127.0.0.1
	$(BIN)/datasette serve $(DB) --metadata datasette.yml \
		--template-dir templates --plugins-dir plugins --host $(HOST) --port $(PORT)

screenshots: install  ## browse the seeds in headless Chromium; writes docs/screenshots/*.png
	rm -f docs/screenshots/*.png
	ARCHIVER_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q -rs \
		tests/test_browser.py -k test_search_read_an_article
	@test -f docs/screenshots/article.png || { echo "no screenshots: see the skip reason above"; exit 1; }

test: install  ## the whole test suite
	$(BIN)/python -m pytest

lint: install  ## ruff (lint and format check) and mypy
	$(BIN)/ruff check archiver tests bench
	$(BIN)/ruff format --check archiver tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff format archiver tests bench
	$(BIN)/ruff check --fix archiver tests bench

bench-dumps: install  ## text-dump F1 on the development benchmark (needs BENCH=path/to/bench)
	$(BIN)/python bench/quality.py --kinds dump $(if $(BENCH),--bench $(BENCH))

bench-throughput: install  ## pages/s, ratios to the targets and peak memory (BENCH=path/to/bench)
	$(BIN)/python bench/throughput.py $(if $(BENCH),--bench $(BENCH)) $(BENCH_ARGS)

clean-output:  ## remove the archive and clean/ (raw/ is never touched)
	rm -f $(DB) $(DB)-wal $(DB)-shm
	rm -rf clean/*.txt
