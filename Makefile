# The README's two commands: `make demo` and `make test`. Everything else here serves them.
# One venv, two stamps: the demo installs only what it runs (train + serve), the tests add their
# extra on top (Ray, LitServe, Playwright, tritonclient, ...); after `make test` the demo's
# stamp holds too, since the test extra includes train and serve.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
MODELS_DIR ?= models
# The demo's training run: every variant on the bundled offline set, sized for a few minutes on 2 CPU cores.
DEMO_TRAIN_ARGS ?= --all --data synthetic --epochs 3 --limit 9400
# Then L1 on the weights at three smaller lambdas, same data and budget: the page shows L1 that
# keeps its accuracy with many weights near zero beside L1 at 0.01 that collapses, and the pick.
DEMO_SWEEP_ARGS ?= sweep --penalty l1 --where kernel_bias --lambdas 1e-5..1e-3:3 --no-baseline \
	--data synthetic --epochs 3 --limit 9400 --engine local --name l1path

.PHONY: demo train serve test lint bench mutate clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-demo: pyproject.toml | $(PY)
	@echo "Installing what the demo runs (TensorFlow, Flask, gunicorn, ...): the first time takes about 3 minutes and 2.5 GB."
	$(PY) -m pip install --quiet -e '.[train,serve]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-demo

## demo: set up, train every variant and the L1 path on the offline set (once), then serve the page and the API.
demo: $(VENV)/.installed-demo
	@if [ -z "$$(ls -d $(MODELS_DIR)/*/[0-9]* 2>/dev/null)" ]; then \
		echo "Training the 8 variants and an L1 path of 3 lambdas on the bundled offline set (3.5 to 7 minutes on 2 CPU cores; once)."; \
		$(PY) -m trainer $(DEMO_TRAIN_ARGS) --models-dir $(MODELS_DIR) && \
		$(PY) -m trainer $(DEMO_SWEEP_ARGS) --models-dir $(MODELS_DIR); \
	else echo "Models already in $(MODELS_DIR)/ (delete them or run 'make train' to retrain)."; fi
	@$(MAKE) --no-print-directory serve

train: $(VENV)/.installed-demo
	$(PY) -m trainer $(DEMO_TRAIN_ARGS) --models-dir $(MODELS_DIR)

serve: $(VENV)/.installed-demo
	@echo "RegServe: open http://127.0.0.1:$(PORT)/ (API: http://127.0.0.1:$(PORT)/openapi.json); Ctrl-C stops it."
	$(PY) -m server --bind 127.0.0.1:$(PORT) --models $(MODELS_DIR)

## test: set up (with the test extra and Debian's chromium, wrk, nginx and strace), lint, then run the whole suite.
test: $(VENV)/.installed-test
	bash scripts/ensure-tools.sh
	$(VENV)/bin/ruff check regserve_contracts analysis trainer server client tests benchmarks
	$(PY) -m pytest

## mutate: mutation testing of the code that decides what users read ([tool.mutmut] in
## pyproject.toml), then a score per module; not part of `make test` (6 to 20 minutes on 2 cores).
mutate: $(VENV)/.installed-test
	rm -rf mutants
	env -u PYTHONPATH $(VENV)/bin/mutmut run
	$(PY) scripts/mutation_scores.py

bench: $(VENV)/.installed-test
	bash scripts/ensure-tools.sh wrk
	# With the test extra in one resolve: alone, pip downgraded OpenTelemetry's SDK for BentoML
	# under Ray's Prometheus exporter, and Ray's dashboard agent could not start.
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) -m benchmarks all

clean:
	rm -rf $(VENV) artifacts .pytest_cache mutants
