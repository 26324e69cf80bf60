# Everything a new user or CI needs, from a fresh clone: `make demo`, `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install demo test bench lint lock clean

$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) examples/demo.py

# Two workers, one test file each at a time (a file's module fixtures stay in one process):
# most tests wait on servers and job subprocesses. Tests that measure the CPU a job gets
# (marked serial) then run alone. Exit 5 is "none selected" (PYTEST_ARGS naming one file).
test: install
	$(PY) -m pytest -n 2 --dist loadfile -m "not serial" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(PY) -m pytest -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

bench: install
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

lint: install
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/mypy src/shipyard

# Re-pin the whole transitive set after changing a dependency in pyproject.toml.
lock: install
	$(PY) -m pip freeze --exclude-editable --disable-pip-version-check | grep -v '^shipyard' > requirements/constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
