# The two commands the README gives: `make search` and `make test`.
# Both set up what they need first (scripts/setup.sh is idempotent).
VENV ?= .venv
PY := $(VENV)/bin/python
SEARCH_DIR ?= runs/fashion_mnist_evolution

.PHONY: setup test check search lint docs clean-search

setup:
	bash scripts/setup.sh

# Lint, then the whole suite on 2 CPU cores, under 10 minutes.
test: setup lint
	$(PY) -m pytest -n 2 --dist loadfile --durations=15

# The fast loop while developing: lint and every test not marked slow.
check: setup lint
	$(PY) -m pytest -n 2 --dist loadfile -m "not slow" --durations=10

# The main job: a real aging-evolution search of NASNet cells on offline
# Fashion-MNIST on the CPU (its measured time, from a fresh clone, is in
# benchmarks/results/readme_commands.json), then the best genotype, its cell
# diagrams and the search report. Continues an earlier run of itself: with
# --resume when $(SEARCH_DIR) holds a search (`search --resume` never starts
# a new one).
search: setup
	$(VENV)/bin/keras-nasnet search --dataset fashion_mnist --strategy evolution \
	  --max-trials 6 --population-size 3 --sample-size 2 \
	  --cells-per-stack 1 --filters 8 --epochs 1 \
	  --train-images 2000 --validation-images 500 \
	  --directory $(SEARCH_DIR) $(if $(wildcard $(SEARCH_DIR)/search.json),--resume)
	$(VENV)/bin/keras-nasnet show --from-search $(SEARCH_DIR) --output $(SEARCH_DIR)/diagrams --overwrite
	$(VENV)/bin/keras-nasnet report $(SEARCH_DIR) --output $(SEARCH_DIR)/report.html --overwrite

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

docs: setup
	$(VENV)/bin/mkdocs build --strict --site-dir build/site
