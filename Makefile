# Two commands, each doing all of its own set-up on a fresh Debian machine.
VENV      ?= .venv
PY        := $(VENV)/bin/python
PIP       := $(VENV)/bin/pip
PYTHON    ?= python3
STAMP     := $(VENV)/.installed
APT_STAMP := $(VENV)/.apt-installed

# The X/GL libraries Qt loads even when it renders offscreen: one list, which the Debian
# package also declares as Depends.
RUN_DEB := $(shell grep -v '^\#' resources/packaging/runtime-debs.txt)
# Debian packages the tests need: the GStreamer RTSP test camera (run with the system Python),
# Qt's libraries, nginx-rtmp (the RTMP server live forwarding is tested against) and
# PostgreSQL (the catalog tests run on it as well as on SQLite) and mosquitto (the MQTT bus).
TEST_DEB := gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp python3-gi gir1.2-gst-plugins-base-1.0 \
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
	gstreamer1.0-plugins-ugly gstreamer1.0-x xvfb xauth nginx-light libnginx-mod-rtmp \
	postgresql mosquitto mosquitto-clients $(RUN_DEB)
# `make dist`: binutils (strip, readelf, objdump), chrpath, patchelf (OpenCV on PyAV's FFmpeg),
# gcc (ICU's stub), dpkg-deb.
DIST_DEB := binutils chrpath patchelf gcc libc6-dev dpkg libpython3.11 $(RUN_DEB)
# `make dist-check`: the installed package under test (lintian, the desktop entry, the systemd
# unit, the window on a virtual screen).
CHECK_DEB := lintian desktop-file-utils systemd xvfb xauth x11-apps $(RUN_DEB)
DEB_FILE   = dist/recording-station_$(shell $(PY) -c 'import app; print(app.__version__)')_$(shell dpkg --print-architecture).deb

# The suite runs on TEST_WORKERS pytest-xdist workers (README, "Tests"): most tests wait on
# real time and real processes (cameras, stations, brokers), so more workers than this
# machine's 2 cores pay. `--dist loadgroup`: tests in one xdist_group (a module sharing a
# module-scoped fixture, tests/conftest.py) run on one worker. pytest prints the suite's time
# and its slowest tests.
TEST_WORKERS ?= 5
PYTEST_PARALLEL = -n $(TEST_WORKERS) --dist loadgroup --durations=15

# The recorder benchmark (issue #3) also runs the ffmpeg CLI, its baseline.
BENCH_ARGS ?= --streams 8,32 --seconds 60

.PHONY: run test test-fast lint clean venv bench dist dist-check

# The demo is a try-out: no sign-in at start (RS_GUI_LOGIN=true make run asks for one).
run: $(STAMP)
	@bash .ci/apt-ensure $(RUN_DEB)
	@echo "make run: sign-in at start is off for this try-out; RS_GUI_LOGIN=true make run turns it on."
	RS_GUI_LOGIN=$${RS_GUI_LOGIN:-false} $(VENV)/bin/recording-station $(ARGS)

test: $(STAMP)
	@bash .ci/apt-ensure $(TEST_DEB)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/vulture
	env -u PYTHONDONTWRITEBYTECODE QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

# The inner loop: everything but the long end-to-end runs and the slow tests (the `system`
# marker, tests/conftest.py), in parallel, on the same 4 workers (8 paid less under load).
# Bytecode caches on even where the shell sets PYTHONDONTWRITEBYTECODE: without them every
# worker and every station process a test starts compiles the project again and pytest
# rewrites every test module's asserts again (10 s of CPU per worker's collection, 3.7 s with).
test-fast: $(STAMP)
	@bash .ci/apt-ensure $(TEST_DEB)
	env -u PYTHONDONTWRITEBYTECODE QT_QPA_PLATFORM=offscreen \
		$(PY) -m pytest $(PYTEST_PARALLEL) -m "not system" $(PYTEST_ARGS)

bench: $(STAMP)
	@bash .ci/apt-ensure $(TEST_DEB) ffmpeg
	$(PY) tests/bench/bench_recorder.py $(BENCH_ARGS)

# The packaged installer (resources/packaging/): a PyInstaller bundle, then a .deb in dist/.
dist: $(STAMP)
	@bash .ci/apt-ensure $(DIST_DEB)
	$(PY) resources/packaging/build.py

# Install that package on this machine, use it, remove it (root; CI runs it after `make test`).
dist-check: dist
	@bash .ci/apt-ensure $(CHECK_DEB)
	RS_DEB=$(DEB_FILE) $(PY) -m pytest -p no:cacheprovider -v tests/packaging $(PYTEST_ARGS)

# The layering contracts, and dead code: vulture reads its paths, threshold and allow-list
# (vulture_allowlist.py) from [tool.vulture] in pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/vulture

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e '.[test,dist]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build dist *.egg-info
