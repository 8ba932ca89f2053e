"""Accounts from the outside (#26 item 1), as real processes: `recording-station user ...`
on a data folder in tmp (the password read from stdin, refusals exit 1, usage errors 2), and
a real headless station's first start printing `admin`'s password once on stdout — not on
the next start, never in its log (stderr), never in the catalog in clear."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

from app.accounts.service import AccountService
from app.catalog import Catalog
from tests.support.station_process import ROOT, terminate

CLI = str(Path(sys.executable).parent / "recording-station")


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "RS_CONFIG_FILE": str(tmp_path / "config.toml"),
            "PYTHONUNBUFFERED": "1"}


def user(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "user", *args, "--data-dir", str(tmp_path / "data")],
                          input=stdin, capture_output=True, text=True, cwd=ROOT,
                          env=_env(tmp_path), timeout=60)


def _accounts(tmp_path: Path) -> tuple[Catalog, AccountService]:
    catalog = Catalog(f"sqlite:///{tmp_path / 'data' / 'catalog.sqlite3'}",
                      key_dir=tmp_path).open()
    return catalog, AccountService(catalog)


def test_user_add_list_passwd_disable_on_the_command_line(tmp_path: Path):
    added = user(tmp_path, "add", "Carol", "--role", "operator", "--display-name", "Carol C",
                 "--password-stdin", stdin="first-password\n")
    assert added.returncode == 0, added.stderr
    refused = user(tmp_path, "passwd", "carol", "--password-stdin", stdin="short\n")
    assert refused.returncode == 1 and "at least 8" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert user(tmp_path, "add", "x", "--role", "root").returncode == 2  # usage
    assert user(tmp_path, "disable", "CAROL").returncode == 0
    listed = user(tmp_path, "list")
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[1].split("\t") == [
        "carol", "Carol C", "operator", "all", "disabled", "-"]
    assert "scrypt" not in listed.stdout and "first-password" not in listed.stdout
    catalog, accounts = _accounts(tmp_path)
    try:
        assert accounts.verify("carol", "first-password") is None  # disabled
        accounts.enable("carol")
        assert accounts.verify("carol", "first-password").display_name == "Carol C"
    finally:
        catalog.close()


def _start(tmp_path: Path, name: str) -> tuple[subprocess.Popen, Path, Path]:
    out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.log"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "--headless", "--no-demo", "--port", "0",
             "--data-dir", str(tmp_path / "data")],
            cwd=ROOT, stdout=stdout, stderr=stderr, env=_env(tmp_path))
    deadline = time.monotonic() + 60
    while "API: " not in out.read_text() and time.monotonic() < deadline:
        assert proc.poll() is None, err.read_text()
        time.sleep(0.1)
    assert terminate(proc) == 0, err.read_text()
    return proc, out, err


def test_the_first_start_prints_admins_password_once_on_stdout_only(tmp_path: Path):
    _, out, log = _start(tmp_path, "first")
    shown = out.read_text().splitlines()
    assert shown[0].startswith("API: ")  # still the first line: scripts and tests read it
    lines = [line for line in shown if "'admin'" in line]
    assert len(lines) == 1, out.read_text()
    password = lines[0].rsplit(" ", 1)[1]
    assert len(password) >= 16
    assert password not in log.read_text() and "created the account 'admin'" in log.read_text()
    catalog_bytes = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("catalog*"))
    assert password.encode() not in catalog_bytes
    _, out2, log2 = _start(tmp_path, "second")
    assert "admin" not in out2.read_text() and password not in log2.read_text()
    catalog, accounts = _accounts(tmp_path)
    try:
        assert accounts.verify("admin", password).role == "admin"
        assert [u.name for u in accounts.list()] == ["admin"]
    finally:
        catalog.close()


def _typed(tmp_path: Path, args: list[str], answers: list[str]) -> tuple[int, str]:
    """`recording-station user ...` on a real terminal (a pty): each answer typed at the
    next prompt, as an operator would; its exit code and what the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal, as getpass wants
        os.chdir(ROOT)
        os.execve(CLI, [CLI, "user", *args, "--data-dir", str(tmp_path / "data")],
                  _env(tmp_path))
    shown = b""
    try:
        for answer in answers:
            while b":" not in shown.rsplit(b"\n", 1)[-1]:
                shown += os.read(fd, 1024)
            shown = shown.replace(b":", b";")  # this prompt answered
            os.write(fd, answer.encode() + b"\n")
        while True:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the child exited: the pty is closed
                break
            if not chunk:
                break
            shown += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_a_password_typed_twice_at_the_prompt_not_echoed(tmp_path: Path):
    code, shown = _typed(tmp_path, ["add", "dave", "--role", "viewer"],
                         ["typed-password", "typed-password"])
    assert code == 0 and "user dave added" in shown and "typed-password" not in shown
    code, shown = _typed(tmp_path, ["passwd", "dave"], ["other-password", "not-the-same"])
    assert code == 1 and "differ" in shown
    catalog = Catalog(f"sqlite:///{tmp_path / 'data' / 'catalog.sqlite3'}", key_dir=tmp_path).open()
    try:
        assert AccountService(catalog).verify("dave", "typed-password") is not None
    finally:
        catalog.close()
