# Two entry points for a fresh clone: `make build` and `make test`.
# The virtual environment is created on first use; torch comes from pip's local wheels.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SPEC ?= specs/vgg16.net

.PHONY: build test bench check summary clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

build: $(STAMP)
	$(BIN)/netspec build $(SPEC)

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The benchmark suite (about 10 minutes on an idle 2-core machine): writes benchmarks/RESULTS.md and benchmarks/results.json.
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	OMP_NUM_THREADS=1 $(BIN)/python -m benchmarks

check: $(STAMP)
	$(BIN)/netspec check $(SPEC)

summary: $(STAMP)
	$(BIN)/netspec summary $(SPEC)

clean:
	rm -rf $(VENV) build reports/*.html
