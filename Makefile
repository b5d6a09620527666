# handsign: `make demo` runs the whole pipeline on synthetic data (offline once MediaPipe's hand landmarker
# is in ../shared/weights/, $HANDSIGN_WEIGHTS or ~/.cache/handsign/); `make test` runs the tests.
# Targets create .venv/ and install into it on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SHARED_DATA := $(abspath $(CURDIR)/../shared/data)
SHARED_WEIGHTS := $(abspath $(CURDIR)/../shared/weights)
SIGN_MNIST_ZIP := $(SHARED_DATA)/sign-language-mnist.zip

# Stages run `python`: make it the venv's. Telemetry and update checks stay off.
export PATH := $(BIN):$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export DVC_NO_ANALYTICS := 1

# One row per experiment: its test metrics; then each classifier on its own test split against the
# external sets (does it carry over?): the comparison tables `make demo` ends with.
COMPARE := dvc metrics show --md --precision 4 reports/*/metrics.json && $(BIN)/handsign results

.PHONY: install lock demo test test-fast gpu-check bench-demo real offline-weights lint mlflow-ui clean

# requirements.lock pins every package handsign and its tests use, with hashes (Linux x86-64, CPython
# 3.11; PyTorch's PyPI wheels, which run on CUDA and on the CPU alike): `make install` installs exactly
# it, then handsign itself without resolving anything; `make lock` refreshes it from pyproject.toml's
# ranges. A machine whose pip is capped (pip's global constraint file) locks within the cap.
LOCK := requirements.lock
PIP_CAP := $(wildcard /etc/xdg/pip/constraints.txt)
PIP := $(BIN)/pip --disable-pip-version-check
# uv installs the lock in under a minute where pip took about 3 (docs/benchmarks.md): it unpacks
# the wheels in parallel and compiles their bytecode once, in parallel (with PYTHONDONTWRITEBYTECODE=1
# nothing would cache it later). pip first installs uv itself, hash-checked, from the lock's own
# entry. uv reads no pip.conf: it gets the indexes pip is configured with (a mirror, a local copy),
# and may take a pinned file from any of them, since every file must match the lock's hashes anyway.
# handsign itself is built by the locked setuptools (no build isolation), not by PyPI's newest.
# Asking pip costs a second: done only when an install runs, and once (the value replaces itself).
PIP_INDEXES = $(eval PIP_INDEXES := \
  $(foreach u,$(or $(PIP_INDEX_URL),$(shell $(PYTHON) -m pip config get global.index-url 2>/dev/null)),--index-url $(u)) \
  $(foreach u,$(PIP_EXTRA_INDEX_URL) $(shell $(PYTHON) -m pip config get global.extra-index-url 2>/dev/null),--extra-index-url $(u)))$(PIP_INDEXES)
# The lock's entry for package $(1) (its pin line and hash lines), written to $(2).
lock_entry = awk '/^$(1)==/{p=1} p{print} p&&!/\\$$/{exit}' $(LOCK) > $(2)
UV_INSTALL = $(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps $(PIP_INDEXES) --index-strategy unsafe-best-match
$(VENV)/.installed: $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(call lock_entry,uv,$(VENV)/uv.lock.txt)
	$(PIP) install --quiet --require-hashes --no-deps -r $(VENV)/uv.lock.txt
	$(UV_INSTALL) --require-hashes --compile-bytecode -r $(LOCK)
	$(UV_INSTALL) --no-build-isolation -e .
	@# mediapipe's opencv-contrib-python is our one cv2. An older venv also holds opencv-python(-headless),
	@# which shares its cv2/ folder: remove that, then put back contrib's files it took with it (the
	@# lock's entry, hash-checked as everything else).
	@fix=; for p in opencv-python-headless opencv-python; do \
	  if $(BIN)/uv pip show --python $(BIN)/python $$p >/dev/null 2>&1; then \
	    $(BIN)/uv pip uninstall --quiet --python $(BIN)/python $$p; fix=1; fi; done; \
	if [ -n "$$fix" ]; then $(call lock_entry,opencv-contrib-python,$(VENV)/cv2.lock.txt); \
	  $(UV_INSTALL) --require-hashes --reinstall -r $(VENV)/cv2.lock.txt; fi
	touch $@

lock: install
	$(BIN)/uv pip compile pyproject.toml --extra dev --upgrade --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 $(if $(PIP_CAP),--constraint $(PIP_CAP)) --custom-compile-command "make lock" --output-file $(LOCK) --quiet
	@echo "wrote $(LOCK): $$(grep -c '^[a-z0-9]' $(LOCK)) packages; \`make install\` installs it"

install: $(VENV)/.installed

# The committed params.yaml is the demo: every experiment on the synthetic source. `handsign check`
# first names in seconds anything a stage would miss (offline: the hand landmarker file);
# `handsign repro -j 2` is `dvc repro` two stages at a time (each stage one torch thread on the
# synthetic source: `on_synthetic` in params.yaml).
DEMO_JOBS ?= 2
demo: install
	$(BIN)/handsign check
	$(BIN)/handsign repro --jobs $(DEMO_JOBS)
	@$(COMPARE)

# Two pytest workers with one torch thread each (the machines have 2 cores; two workers of two
# threads ran the fast suite in 95 s, these in 55 s); a test file stays on one worker, so a
# module's shared repository is built once.
TEST_ENV := OMP_NUM_THREADS=1
test: install
	$(TEST_ENV) $(BIN)/pytest -v -n 2 --dist loadfile --no-loadscope-reorder

test-fast: install
	$(TEST_ENV) $(BIN)/pytest -m "not slow" -n 2 --dist loadfile --no-loadscope-reorder

# Every CUDA branch (bf16 autocast, channels_last, pinned batches, NCCL DDP, GPU resume, export and
# serving of a GPU-trained model) in about a minute on one GPU; skips with the reason without one.
gpu-check: install
	$(BIN)/pytest -v -m cuda -rs tests/test_gpu.py

# Where `make demo`'s time goes, stage by stage, from a fresh clone of the committed HEAD.
bench-demo: install
	$(BIN)/handsign bench demo --quiet

# Every experiment whose dataset has a real archive in ../shared/data/, through the `local`
# source, as one temporary experiment (params.yaml stays as committed); results land in
# `dvc exp show`, MLflow (registered as handsign-<experiment>-local) and reports/real/ (the reports
# copied from the experiment's git ref), from which the docs' real-data tables are rewritten.
REAL_ARCHIVES := sign_mnist:sign-language-mnist.zip leapgestrecog:leapgestrecog.zip fingers:fingers.zip
real: install
	@set -e; sets=""; targets=""; \
	for pair in $(REAL_ARCHIVES); do \
	  ds=$${pair%%:*}; zip=$(SHARED_DATA)/$${pair#*:}; \
	  if [ -f "$$zip" ]; then \
	    sets="$$sets -S datasets.$$ds.source=local -S datasets.$$ds.local_path=$$zip"; \
	    targets="$$targets $$(handsign experiments --dataset $$ds --stages)"; \
	  fi; \
	done; \
	if [ -z "$$targets" ]; then echo "make real: no real archive in $(SHARED_DATA) (see docs/real-data.md)"; exit 1; fi; \
	handsign check $$sets $$targets; \
	name=real-$$(date +%Y%m%d-%H%M%S); \
	echo "dvc exp run --temp -n $$name$$sets$$targets"; \
	dvc exp run --temp -n $$name $$sets $$targets; \
	ref=$$(git for-each-ref --format='%(refname)' refs/exps | grep "/$$name$$"); \
	handsign results --snapshot "$$ref" $$targets; \
	handsign results --write README.md --write docs/results.md
	dvc exp show --md --drop '.*' --keep '^Experiment$$|^datasets\..*\.source$$|.*metrics\.json:accuracy.*$$|.*external\.json:.*\.accuracy$$|.*train\.json:train_seconds$$'

# Offline ImageNet weights: link ../shared/weights/*.pth into torchvision's cache ($TORCH_HOME or
# ~/.cache/torch), where its weights API looks before downloading. Nothing is copied.
offline-weights:
	@dest=$${TORCH_HOME:-$$HOME/.cache/torch}/hub/checkpoints; mkdir -p "$$dest"; \
	for f in $(SHARED_WEIGHTS)/*.pth; do [ -f "$$f" ] && ln -sf "$$f" "$$dest/" && echo "linked $$f -> $$dest/"; done; true

# ruff, then the layers and the no-cycle contract in pyproject.toml ([tool.importlinter]).
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --port 5000

clean:
	rm -rf data/raw data/prepared data/split models/*/model.pt models/*/last.pt .dvc/tmp
