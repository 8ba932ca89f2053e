"""`recording-station --self-test`: the check an installer's user (and the package's CI) runs."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import app.self_test as self_test

ROOT = Path(__file__).resolve().parents[2]


def test_self_test_records_downloads_and_decodes_without_touching_the_operators_station(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "RS_DATA_DIR": str(tmp_path / "mine"),
           "RS_PORT": "1", "RS_CONFIG_FILE": str(tmp_path / "mine.toml")}
    done = subprocess.run([sys.executable, "-m", "app", "--self-test"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["ok"] * 6, done.stdout
    assert "MD5 matches" in done.stdout and "frames of 320x240" in done.stdout
    assert lines[-1] == "self-test passed: 6 steps"
    # RS_DATA_DIR, RS_PORT (1 would fail to bind) and the config file were not used
    assert not (tmp_path / "mine").exists() and not (tmp_path / "mine.toml").exists()
    assert list(home.rglob("*")) == []  # nor the default config and data folders


def test_a_failing_step_is_named_and_fails_the_run(monkeypatch):
    monkeypatch.setattr(self_test, "PATTERN", "testsrc://nosuchpattern?size=320x240")
    out = io.StringIO()
    assert self_test.run_self_test(out) == 1
    text = out.getvalue()
    assert "ok    start a headless station" in text
    assert "FAIL  add the test-pattern source" in text
    assert text.splitlines()[-1] == "self-test FAILED after 1 step(s) passed"
