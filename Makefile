# handsign: `make demo` runs the whole pipeline offline on synthetic data; `make test` runs the tests.
# Targets create .venv/ and install into it on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SHARED_DATA := $(abspath $(CURDIR)/../shared/data)
SIGN_MNIST_ZIP := $(SHARED_DATA)/sign-language-mnist.zip

# Stages run `python`: make it the venv's. Telemetry and update checks stay off.
export PATH := $(BIN):$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export DVC_NO_ANALYTICS := 1

# Metrics and changed params per experiment, without the columns of file hashes.
SHOW_EXPERIMENTS := dvc exp show --md --only-changed --sort-by reports/metrics.json:accuracy \
	--drop 'Created|State|Executor|^data/|^models/|^src/|^reports/train(\.json|_history\.csv)$$'

.PHONY: install demo test test-fast real lint mlflow-ui clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# The committed params.yaml is the demo (synthetic source): a workspace run does not edit it,
# and the seed model runs in a temporary copy with its overrides.
demo: install
	dvc exp run
	dvc exp run --temp -S model=cnn_seed -S lr=0.02
	$(SHOW_EXPERIMENTS)

test: install
	$(BIN)/pytest -v

test-fast: install
	$(BIN)/pytest -m "not slow"

# Both models on the real Sign Language MNIST copy, through the `local` source. Temporary copies
# keep params.yaml as committed; results land in `dvc exp show` and MLflow.
REAL := -S source=local -S local_path=$(SIGN_MNIST_ZIP)
real: install
	@test -f $(SIGN_MNIST_ZIP) || { echo "make real: $(SIGN_MNIST_ZIP) not found (see README: Real data)"; exit 1; }
	dvc exp run --temp $(REAL) -S model=cnn_small -S epochs=12 -S lr=0.05
	dvc exp run --temp $(REAL) -S model=cnn_seed -S epochs=12 -S lr=0.02
	$(SHOW_EXPERIMENTS)

lint: install
	$(BIN)/ruff check .

mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --port 5000

clean:
	rm -rf data/raw data/prepared data/split models/model.pt .dvc/tmp
