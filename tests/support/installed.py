"""The installed package as an operator meets it: the environment of a login of theirs, and
the size of what the package put on disk (tests/packaging, tests/bench/bench_startup.py)."""

from __future__ import annotations

import os
from pathlib import Path


def operator_env(home: Path) -> dict[str, str]:
    """This process's environment without the test run's own settings (RS_*, XDG_*, Qt's,
    Python's, the virtualenv), with `home` as HOME: what a program started from the menu or a
    terminal of a fresh user sees."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RS_", "XDG_", "QT_", "PYTHON")) and k != "VIRTUAL_ENV"}
    env.update(HOME=str(home), PATH="/usr/local/bin:/usr/bin:/bin")
    return env


def files_size(folder: Path) -> int:
    """Bytes in the regular files under `folder` (symbolic links not followed or counted)."""
    return sum(path.stat().st_size for path in folder.rglob("*")
               if path.is_file() and not path.is_symlink())
