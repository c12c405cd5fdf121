# The two commands a newcomer needs are `make run` and `make test`; everything else is a step
# of theirs. Only python3 (3.11+), make and git are assumed: uv is installed into .tools/ when
# it is not already on PATH.
SHELL := /bin/bash
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen

.PHONY: run test install lint protos protos-check buf-lint bench clean

run: install
	$(RUN) dancu start --demo

test: install lint protos-check buf-lint
	$(RUN) pytest

install: $(UV)
	$(UV) sync --frozen

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy .
	$(RUN) lint-imports

# One definition of the protoc command line, shared with protos-check: tests/support/protos_drift.py.
protos: install
	$(RUN) python -m tests.support.protos_drift --write

# Regenerates into a scratch copy and fails when the committed code differs.
protos-check: install
	$(RUN) python -m tests.support.protos_drift

# buf STANDARD lint of protos/dancu (protos/buf.yaml): protoc builds the image with the include
# paths of `make protos`, so it needs no buf.build; buf itself comes from npm through npx.
buf-lint: install
	$(RUN) python -m tests.support.buf_lint

bench: install
	$(RUN) python -m bench.get_resident
	$(RUN) python -m bench.scan
	$(RUN) python -m bench.copy_load
	$(RUN) python -m bench.explain_queries
	$(RUN) python -m bench.import_list
	$(RUN) python -m bench.get_case_status
	$(RUN) python -m bench.death_workflow

clean:
	rm -rf .venv .tools .dancu
