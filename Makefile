# The two commands of the README:  `make book`  and  `make test`.
# Both create (or reuse) the virtual environment .venv with every package pinned.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BUILD_FLAGS := -W -n --keep-going
HERE := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))

.PHONY: book test env student assets book-offline serve bench clean lock

# The execution cache keys each chapter on its own source only, and Sphinx re-reads only changed
# sources: a change to the library (or to the pinned environment) must not leave pages with outputs
# the current code would not compute, so it empties the cache and the Sphinx environments of every
# build, and every chapter runs again. So do new benchmark results: the teaching page shows them
# (book/teaching.md reads bench/results/latest.json when it runs), and new stored experiment runs
# (book/digit_arithmetic.md reads experiments/results/digit_arithmetic.json).
CACHE := _build/.jupyter_cache
CACHE_KEY := _build/.cache-key
$(CACHE_KEY): $(wildcard $(HERE)lib/pntk/*.py) $(HERE)requirements.txt $(HERE)postBuild $(wildcard $(HERE)bench/results/latest.json) \
              $(wildcard $(HERE)experiments/results/*.json)
	rm -rf $(CACHE) _build/.doctrees _build/jupyter_execute $(OFFLINE) $(STUDENT)
	mkdir -p _build && touch $@

book: $(STAMP) $(CACHE_KEY)  ## build the whole book, executing every chapter, into _build/html
	$(BIN)/jupyter-book build $(BUILD_FLAGS) .
	$(BIN)/python $(EDITIONS) outputs _build/html $(CACHE)
	@echo "Book built: open _build/html/index.html"

# The student edition: _config.yml plus sphinx-exercise's hide_solutions (written to
# _build_student/_config.yml), sharing the execution cache of `make book` (_build/.jupyter_cache);
# then the solutions are removed from the downloadable sources (.md, .ipynb) too.
STUDENT := _build_student
EDITIONS := $(HERE)tests/editions.py
student: $(STAMP) $(CACHE_KEY)  ## build the student edition (solutions hidden) into _build_student/_build/html
	mkdir -p $(STUDENT)
	$(BIN)/python $(EDITIONS) config _config.yml $(STUDENT)/_config.yml "$(abspath $(CACHE))"
	$(BIN)/jupyter-book build $(BUILD_FLAGS) --path-output $(STUDENT) --config $(STUDENT)/_config.yml .
	$(BIN)/python $(EDITIONS) outputs $(STUDENT)/_build/html "$(abspath $(CACHE))"
	$(BIN)/python $(EDITIONS) strip $(STUDENT)/_build/html
	@echo "Student edition built: open $(STUDENT)/_build/html/index.html"

test: $(STAMP) $(CACHE_KEY)  ## run the whole test suite (library, chapters, build checks)
	$(BIN)/python -m pytest

env: $(STAMP)  ## only create .venv

$(STAMP): requirements.txt postBuild pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-virtualenv -r requirements.txt
	PATH="$(abspath $(BIN)):$$PATH" ./postBuild
	touch $(STAMP)

# The offline variant: MathJax, require.js and the ipywidgets manager served from the built site
# instead of CDNs (_config_offline.yml merged over _config.yml). `make assets` installs them from
# npm (exact versions in browser/package-lock.json) into _build/offline-assets.
OFFLINE_ASSETS := _build/offline-assets
OFFLINE := _build/offline
WIDGETS_DIST := browser/node_modules/@jupyter-widgets/html-manager/dist
assets: $(OFFLINE_ASSETS)/.installed  ## install the offline JavaScript (npm ci in browser/)

$(OFFLINE_ASSETS)/.installed: browser/package.json browser/package-lock.json browser/widgets-offline.js
	npm ci --prefix browser --no-audit --no-fund
	rm -rf $(OFFLINE_ASSETS) && mkdir -p $(OFFLINE_ASSETS)/_offline/html-manager
	cp browser/node_modules/requirejs/require.js browser/widgets-offline.js $(OFFLINE_ASSETS)/_offline/
	cp $(WIDGETS_DIST)/embed-amd.js $(WIDGETS_DIST)/*.woff* $(WIDGETS_DIST)/*.ttf $(WIDGETS_DIST)/*.eot \
	  $(WIDGETS_DIST)/*.svg $(OFFLINE_ASSETS)/_offline/html-manager/
	cp -r browser/node_modules/mathjax/es5 $(OFFLINE_ASSETS)/_offline/mathjax
	touch $@

book-offline: $(STAMP) $(CACHE_KEY) assets  ## build the offline variant into _build/offline/_build/html (reuses the execution cache)
	$(BIN)/python browser/offline_config.py $(OFFLINE)/_config.yml
	$(BIN)/jupyter-book build $(BUILD_FLAGS) --path-output $(OFFLINE) --config $(OFFLINE)/_config.yml .
	$(BIN)/python $(EDITIONS) outputs $(OFFLINE)/_build/html "$(abspath $(CACHE))"
	@echo "Offline book built: open $(OFFLINE)/_build/html/index.html"

serve: book  ## serve the built book on http://localhost:8000
	$(BIN)/python -m http.server --directory _build/html 8000

# BENCH_ARGS: --quick (fast subset), --book (full book build, cold and warm, in /tmp), --large (n = 20000)
bench: $(STAMP)  ## run the benchmarks; prints a table, writes bench/results/ and BENCHMARKS.md
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:  ## remove build output (keeps .venv)
	rm -rf _build _build_student .pytest_cache

lock:  ## re-resolve requirements.in into the fully pinned requirements.txt
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet -r requirements.in
	{ echo "# Every package pinned. Generated by 'make lock' from requirements.in; do not edit by hand."; \
	  echo "# neural-tangents==0.6.5 is installed separately with --no-deps (postBuild)."; \
	  .lock-venv/bin/python -m pip freeze --exclude neural-tangents; } > requirements.txt
	rm -rf .lock-venv
