# kin: two commands on a fresh Debian machine, as root:
#   make demo   installs everything, then creates the seed's 2-node cluster
#   make test   installs what the tests need, then runs lint and every test tier
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
KIN := $(VENV)/bin/kin
STAMP := $(VENV)/.kin-installed
PYTEST_ARGS ?=
# Some shells set this; without cached bytecode every kin process compiles kin again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup system venv demo test lint unit netns e2e bench clean-demo proto

setup: system venv

system:
	@PYTHON=$(PYTHON) scripts/setup-system.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[dev]'
	@# Put kin on root's PATH, unless another kin is already there.
	@if [ "$$(id -u)" = 0 ] && { [ ! -e /usr/local/bin/kin ] || [ -L /usr/local/bin/kin ]; }; then \
		ln -sfn "$(abspath $(KIN))" /usr/local/bin/kin; fi
	@touch $@

demo: setup
	@$(KIN) delete cluster --name myk8s >/dev/null 2>&1 || true
	$(KIN) create cluster --config examples/kind-2node.yaml --name myk8s
	@scripts/demo-next-steps.sh myk8s

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: setup lint
	$(PY) -m pytest $(PYTEST_ARGS)

unit: venv
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

netns: setup
	$(PY) -m pytest -m netns $(PYTEST_ARGS)

e2e: setup
	$(PY) -m pytest -m e2e $(PYTEST_ARGS)

bench: setup
	$(PY) -m benchmarks.bench_cluster
	$(PY) benchmarks/bench_cni.py
	$(PY) -m benchmarks.bench_apiserver --quick
	$(PY) -m benchmarks.bench_flannel 3 3
	$(PY) -m benchmarks.bench_pods 100 10
	$(PY) -m benchmarks.bench_proxy 3
	$(PY) -m benchmarks.bench_services 3 3

# The CRI and etcd messages and stubs, generated from their .proto files and committed
# (a unit test checks they are current).
proto: venv
	$(PY) -m grpc_tools.protoc -Isrc --python_out=src --pyi_out=src --grpc_python_out=src \
		src/kin/runtime/cri/api.proto src/kin/etcd/rpc.proto
