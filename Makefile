# Two commands, each doing all of its own set-up on a fresh Debian machine.
VENV      ?= .venv
PY        := $(VENV)/bin/python
PIP       := $(VENV)/bin/pip
PYTHON    ?= python3
STAMP     := $(VENV)/.installed
APT_STAMP := $(VENV)/.apt-installed

# Debian packages the tests need: the GStreamer RTSP test camera (run with the system Python),
# the X/GL libraries Qt loads even when it renders offscreen, and nginx-rtmp (the RTMP server
# live forwarding is tested against).
TEST_DEB := gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp python3-gi gir1.2-gst-plugins-base-1.0 \
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
	gstreamer1.0-plugins-ugly gstreamer1.0-x xvfb xauth nginx-light libnginx-mod-rtmp \
	libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
	libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-xkb1 libxkbcommon-x11-0 \
	libegl1 libgl1 libfontconfig1 libdbus-1-3
RUN_DEB := libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
	libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-xkb1 libxkbcommon-x11-0 \
	libegl1 libgl1 libfontconfig1 libdbus-1-3

# The recorder benchmark (issue #3) also runs the ffmpeg CLI, its baseline.
BENCH_ARGS ?= --streams 8,32 --seconds 60

.PHONY: run test lint clean venv bench

run: $(STAMP)
	@bash .ci/apt-ensure $(RUN_DEB)
	$(VENV)/bin/recording-station $(ARGS)

test: $(STAMP)
	@bash .ci/apt-ensure $(TEST_DEB)
	$(VENV)/bin/lint-imports
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@bash .ci/apt-ensure $(TEST_DEB) ffmpeg
	$(PY) tests/bench/bench_recorder.py $(BENCH_ARGS)

lint: $(STAMP)
	$(VENV)/bin/lint-imports

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info
