# Every target creates .venv from scratch when it is missing (or when pyproject.toml changed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= data
PYTEST_ARGS ?=

.PHONY: demo test bench fuzz lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/pdrec demo --data-dir $(DATA_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP)
	command -v wrk >/dev/null || apt-get install -y wrk || echo "install Debian's wrk for the API benchmark"
	$(BIN)/python benchmarks/run_all.py

# schemathesis with every check, 100 examples per operation, on SQLite and PostgreSQL (make test
# runs 10); prints the cases sent and the time per store
fuzz: $(STAMP)
	PDREC_FUZZ_EXAMPLES=100 $(BIN)/python -m pytest -p no:xdist -s -q tests/api/test_schema_fuzz.py

lint: $(STAMP)
	$(BIN)/ruff check recommender pipelines api tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
