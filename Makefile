# The two commands (README): `make run` runs the main job on built-in defaults, `make test` the tests.
# Both set everything up first (scripts/bootstrap.sh: a pinned venv in .venv, idempotent).
SHELL := /bin/bash
VENV ?= .venv
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
COLCON_PATHS := --base-paths . --build-base build --install-base install

.PHONY: run test setup build bench clean help

help:
	@echo "make run    - the main job on built-in defaults (sets up .venv first)"
	@echo "make test   - colcon build + the whole test suite (sets up .venv first)"
	@echo "make bench  - uav-edge bench (JSON in results/bench.json + a table)"
	@echo "make clean  - remove build/, install/, log/ (keeps .venv)"

setup:
	@scripts/bootstrap.sh

run: setup
	$(VENV)/bin/uav-edge mission

build: setup
	source $(VENV)/bin/activate && colcon build $(COLCON_PATHS) --event-handlers console_cohesion-

test: build
	source $(VENV)/bin/activate && export AMENT_PREFIX_PATH="$$VIRTUAL_ENV" && source install/setup.bash && \
	  colcon test $(COLCON_PATHS) --event-handlers console_direct+ --return-code-on-test-failure \
	    --pytest-args -p no:cacheprovider

bench: setup
	$(VENV)/bin/uav-edge bench

clean:
	rm -rf build install log
