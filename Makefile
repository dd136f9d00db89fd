# The commands README.md quotes. Everything runs inside .venv (created by `make install`).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch and torchvision are pinned together and installed in the same pip command as the
# package, so no other dependency can pull a different torch build (see docs/getting-started.md).
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
# W&B stays offline unless a user says otherwise; the Hugging Face hub is offline only for the
# tests (and CI): `make train` may fetch ImageNet weights for a user who asks for them.
export WANDB_MODE := offline
OFFLINE := HF_HUB_OFFLINE=1

.PHONY: install install-browser train test test-fast lint bench clean-data

install: $(BIN)/python
	$(BIN)/pip install $(TORCH_PINS) -e ".[dev,wandb]"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Headless Chromium + its driver for the monitor page's browser test
# (tests/inference/serve/test_browser.py; skipped without them, except under CI). Debian's
# packages, as root; nothing to do when both are already there.
install-browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
		echo "chromium and chromedriver already installed"; \
	else \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium chromium-driver; \
	fi

train:
	$(BIN)/python -m iodvideo.train $(ARGS)

test:
	$(OFFLINE) $(BIN)/python -m pytest -q $(ARGS)

# Everything but the `slow` tests (CLI subprocesses, end-to-end training, the wheel build): the
# quick loop while developing; `make test` is what must pass.
test-fast:
	$(OFFLINE) $(BIN)/python -m pytest -q -m "not slow" $(ARGS)

# Speed and memory figures (docs/results.md); not part of the tests.
bench:
	for script in scripts/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lint:
	$(BIN)/ruff check src tests setup.py notebooks scripts

clean-data:
	rm -rf data/synth data/synth-*v-* data/synth_smoke
